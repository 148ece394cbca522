/**
 * Where audit records go (sent by the after-response batch, src/pipeline). Failure policy, in order:
 * 1. numbered by Redis INCRBY and pushed to the Redis queue, in the batch's one pipeline;
 * 2. Redis unreachable: straight into Postgres (unnumbered if INCR failed; the flush numbers it later);
 * 3. both unreachable: held in the isolate and retried by the next write and by the cron.
 * Nothing is dropped silently: a full hold drops its oldest record and counts it.
 */

import type { Config } from "../config/env.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor, type Sql } from "../storage/postgres.ts";
import { redisFor, redisKey } from "../storage/redis.ts";
import { type AuditRecord, type SignedRecord, signRecord } from "./record.ts";

/** Where a record went; "failed" only when the caller asked not to hold it (strict mode). */
export type Destination = "queued" | "postgres" | "held" | "failed" | "off";

const held: SignedRecord[] = [];
let droppedFromHold = 0;

/** Records held in this isolate for want of Redis and Postgres, and how many a full hold dropped. */
export function heldRecords(): { held: number; dropped: number } {
  return { held: held.length, dropped: droppedFromHold };
}

export const queueKey = (config: Config): string => redisKey(config, "audit", "queue");

/** How long the oldest queued record (LINDEX 0 of the queue) has waited, in seconds; 0 for none. */
export function queueAgeSeconds(oldest: string | null, now = Date.now()): number {
  const ts = oldest === null ? undefined : /"ts":"([^"]+)"/.exec(oldest)?.[1];
  const age = ts === undefined ? 0 : (now - Date.parse(ts)) / 1000;
  return Number.isFinite(age) ? Math.max(0, age) : 0;
}
export const sequenceKey = (config: Config): string => redisKey(config, "audit", "seq");

/** A sequence number now (strict mode's proof that Redis can take the record), or `undefined` when Redis cannot give one. */
export async function reserveSequence(config: Config): Promise<number | undefined> {
  const redis = redisFor(config);
  if (redis === undefined || config.postgres === undefined) return undefined;
  try {
    return await tracked("redis", () => redis.incr(sequenceKey(config)));
  } catch {
    return undefined;
  }
}

/** A batch's records (how many), numbered and signed, and which of them the Redis queue can take. */
export type PreparedAudit = { size: number; audited: boolean; signed: SignedRecord[]; queueable: SignedRecord[] };

/** Numbers (one INCRBY) and signs the batch's records, when the audit log is configured. */
export async function prepareAudit(config: Config, records: AuditRecord[]): Promise<PreparedAudit> {
  const audited = postgresFor(config) !== undefined && config.audit.hmacKey !== undefined;
  if (!audited) return { size: records.length, audited, signed: [], queueable: [] };
  await numberBatch(config, records);
  const signed = await Promise.all(records.map((record) => signRecord(record, config.audit.hmacKey!)));
  return { size: records.length, audited, signed, queueable: signed.filter((record) => record.seq !== null) };
}

/**
 * Stores what the Redis queue did not take straight into Postgres, or holds it; says
 * where each record went, in order. With `hold: false` (strict mode) a record with
 * nowhere durable to go is reported "failed" instead of held.
 */
export async function storeUnqueued(config: Config, audit: PreparedAudit, queued: boolean, hold: boolean): Promise<Destination[]> {
  if (!audit.audited) return Array.from({ length: audit.size }, () => "off");
  const rest = queued ? audit.signed.filter((record) => record.seq === null) : audit.signed;
  let restWent: Destination = "postgres";
  if (rest.length > 0) {
    try {
      await insertRecords(postgresFor(config)!, [...rest, ...held]);
      held.length = 0;
    } catch {
      if (hold) for (const record of rest) holdRecord(config, record);
      restWent = hold ? "held" : "failed";
    }
  }
  const inRest = new Set(rest.map((record) => record.request_id));
  return audit.signed.map((record) => (inRest.has(record.request_id) ? restWent : "queued"));
}

/** Gives the batch's unnumbered records consecutive numbers with one INCRBY; leaves them unnumbered if Redis cannot. */
async function numberBatch(config: Config, records: AuditRecord[]): Promise<void> {
  const redis = redisFor(config);
  const unnumbered = records.filter((record) => record.seq === null);
  if (redis === undefined || unnumbered.length === 0) return;
  try {
    const last = await tracked("redis", () => redis.incrby(sequenceKey(config), unnumbered.length));
    for (const [i, record] of unnumbered.entries()) record.seq = last - unnumbered.length + 1 + i;
  } catch {
    // numbered later by the flush, once Redis answers again
  }
}

/** Retries the records held in this isolate; returns how many landed. */
export async function retryHeld(config: Config): Promise<number> {
  const sql = postgresFor(config);
  if (sql === undefined || held.length === 0) return 0;
  const batch = held.splice(0, held.length);
  try {
    await insertRecords(sql, batch);
    return batch.length;
  } catch {
    held.unshift(...batch);
    return 0;
  }
}

/**
 * One multi-row insert. Idempotent: a record already stored (same seq, or same
 * request id) is skipped, so a retried flush never duplicates.
 */
export async function insertRecords(sql: Sql, records: readonly (SignedRecord | string)[]): Promise<void> {
  if (records.length === 0) return;
  const json = `[${records.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join(",")}]`;
  await tracked("postgres", () => sql(`INSERT INTO audit_log SELECT * FROM json_populate_recordset(NULL::audit_log, $1::json) ON CONFLICT DO NOTHING`, [json]));
}

/** Holds a record for the next write or cron; at AUDIT_HOLD_LIMIT the oldest goes, counted and logged. */
function holdRecord(config: Config, record: SignedRecord): void {
  if (held.length >= config.audit.holdLimit) {
    held.shift();
    droppedFromHold += 1;
    console.error(JSON.stringify({ audit: "hold full: oldest record dropped", dropped: droppedFromHold }));
  }
  held.push(record);
}
