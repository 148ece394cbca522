/**
 * Where audit records go (sent by the after-response batch, src/pipeline). Failure policy, in order:
 * 1. numbered by Redis INCRBY and pushed to the Redis queue, in the batch's one pipeline;
 * 2. Redis unreachable: straight into Postgres (unnumbered if INCR failed; the flush numbers it later);
 * 3. both unreachable: held in the isolate and retried by the next write and by the cron.
 * Nothing is dropped silently: a full hold drops its oldest record and counts it.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Tracked } from "../storage/availability.ts";
import type { Sql } from "../storage/postgres.ts";
import { redisKey } from "../storage/redis.ts";
import { type AuditRecord, type AuditSigner, type SignedRecord, signRecord } from "./record.ts";

/** Where a record went; "failed" only when the caller asked not to hold it (strict mode). */
export type Destination = "queued" | "postgres" | "held" | "failed" | "off";

/** A batch's records (how many), numbered and signed, and which of them the Redis queue can take. */
export type PreparedAudit = { size: number; audited: boolean; signed: SignedRecord[]; queueable: SignedRecord[] };

export const queueKey = (config: { keyPrefix: string }): string => redisKey(config, "audit", "queue");
export const sequenceKey = (config: { keyPrefix: string }): string => redisKey(config, "audit", "seq");

/** How long the oldest queued record (LINDEX 0 of the queue) has waited, in seconds; 0 for none. */
export function queueAgeSeconds(oldest: string | null, now = Date.now()): number {
  const ts = oldest === null ? undefined : /"ts":"([^"]+)"/.exec(oldest)?.[1];
  const age = ts === undefined ? 0 : (now - Date.parse(ts)) / 1000;
  return Number.isFinite(age) ? Math.max(0, age) : 0;
}

export type AuditSink = {
  /** The queue's Redis key. */
  queueKey: string;
  /** A sequence number now (strict mode's proof that Redis can take the record), or `undefined` when Redis cannot give one. */
  reserveSequence(): Promise<number | undefined>;
  /** Numbers (one INCRBY) and signs the batch's records, when the audit log is configured. */
  prepare(records: AuditRecord[]): Promise<PreparedAudit>;
  /**
   * Stores what the Redis queue did not take straight into Postgres, or holds it; says
   * where each record went, in order. With `hold: false` (strict mode) a record with
   * nowhere durable to go is reported "failed" instead of held.
   */
  storeUnqueued(audit: PreparedAudit, queued: boolean, hold: boolean): Promise<Destination[]>;
  /** Retries the records held in this isolate; returns how many landed. */
  retryHeld(): Promise<number>;
  /** Records held in this isolate for want of Redis and Postgres, and how many a full hold dropped. */
  heldRecords(): { held: number; dropped: number };
};

export function createAuditSink(deps: {
  keyPrefix: string;
  holdLimit: number;
  signer: AuditSigner | undefined;
  redis: Pick<Redis, "incr" | "incrby"> | undefined;
  sql: Sql | undefined;
  tracked: Tracked;
}): AuditSink {
  const { redis, sql, signer, tracked } = deps;
  const held: SignedRecord[] = [];
  let dropped = 0;
  const audited = sql !== undefined && signer !== undefined;

  /** Holds a record for the next write or cron; at AUDIT_HOLD_LIMIT the oldest goes, counted and logged. */
  const hold = (record: SignedRecord): void => {
    if (held.length >= deps.holdLimit) {
      held.shift();
      dropped += 1;
      console.error(JSON.stringify({ audit: "hold full: oldest record dropped", dropped }));
    }
    held.push(record);
  };

  /** Gives the batch's unnumbered records consecutive numbers with one INCRBY; leaves them unnumbered if Redis cannot. */
  const numberBatch = async (records: AuditRecord[]): Promise<void> => {
    const unnumbered = records.filter((record) => record.seq === null);
    if (redis === undefined || unnumbered.length === 0) return;
    try {
      const last = await tracked("redis", () => redis.incrby(sequenceKey(deps), unnumbered.length));
      for (const [i, record] of unnumbered.entries()) record.seq = last - unnumbered.length + 1 + i;
    } catch {
      // numbered later by the flush, once Redis answers again
    }
  };

  return {
    queueKey: queueKey(deps),
    async reserveSequence() {
      if (redis === undefined || sql === undefined) return undefined;
      try {
        return await tracked("redis", () => redis.incr(sequenceKey(deps)));
      } catch {
        return undefined;
      }
    },
    async prepare(records) {
      if (!audited) return { size: records.length, audited, signed: [], queueable: [] };
      await numberBatch(records);
      const signed = await Promise.all(records.map((record) => signRecord(record, signer!.record)));
      return { size: records.length, audited, signed, queueable: signed.filter((record) => record.seq !== null) };
    },
    async storeUnqueued(audit, queued, mayHold) {
      if (!audit.audited) return Array.from({ length: audit.size }, () => "off");
      const rest = queued ? audit.signed.filter((record) => record.seq === null) : audit.signed;
      let restWent: Destination = "postgres";
      if (rest.length > 0) {
        try {
          await insertRecords(sql!, tracked, [...rest, ...held]);
          held.length = 0;
        } catch {
          if (mayHold) for (const record of rest) hold(record);
          restWent = mayHold ? "held" : "failed";
        }
      }
      const inRest = new Set(rest.map((record) => record.request_id));
      return audit.signed.map((record) => (inRest.has(record.request_id) ? restWent : "queued"));
    },
    async retryHeld() {
      if (sql === undefined || held.length === 0) return 0;
      const batch = held.splice(0, held.length);
      try {
        await insertRecords(sql, tracked, batch);
        return batch.length;
      } catch {
        held.unshift(...batch);
        return 0;
      }
    },
    heldRecords: () => ({ held: held.length, dropped }),
  };
}

/**
 * One multi-row insert. Idempotent: a record already stored (same seq, or same
 * request id) is skipped, so a retried flush never duplicates.
 */
export async function insertRecords(sql: Sql, tracked: Tracked, records: readonly (SignedRecord | string)[]): Promise<void> {
  if (records.length === 0) return;
  const json = `[${records.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join(",")}]`;
  await tracked("postgres", () => sql(`INSERT INTO audit_log SELECT * FROM json_populate_recordset(NULL::audit_log, $1::json) ON CONFLICT DO NOTHING`, [json]));
}
