/**
 * Where audit records go. Failure policy, in order:
 * 1. numbered by Redis INCRBY and pushed to the Redis queue (with the cache writes and the breakers'
 *    reports of the batch's provider calls: one pipeline per batch);
 * 2. Redis unreachable: straight into Postgres (unnumbered if INCR failed; the flush numbers it later);
 * 3. both unreachable: held in the isolate and retried by the next write and by the cron.
 * Nothing is dropped silently: a full hold drops its oldest record and counts it.
 */

import type { CacheWrite } from "../cache/response-cache.ts";
import type { Config } from "../config/env.ts";
import { BREAKER_SCRIPT } from "../reliability/breaker-script.ts";
import { breakerCall, noteTransitions, reportsFrom } from "../reliability/breakers.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor, type Sql } from "../storage/postgres.ts";
import { redisFor, redisKey } from "../storage/redis.ts";
import { type AuditRecord, type SignedRecord, signRecord } from "./record.ts";

/** Where a record went; "failed" only when the caller asked not to hold it (strict mode). */
export type Destination = "queued" | "postgres" | "held" | "failed" | "off";

const HOLD_LIMIT = 10_000;
const held: SignedRecord[] = [];
let droppedFromHold = 0;

/** Records held in this isolate for want of Redis and Postgres, and how many a full hold dropped. */
export function heldRecords(): { held: number; dropped: number } {
  return { held: held.length, dropped: droppedFromHold };
}

export const queueKey = (config: Config): string => redisKey(config, "audit", "queue");
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

type Pending = { record: AuditRecord; cacheWrite: CacheWrite | undefined };

/**
 * The batch that is still taking records. Requests close in time share it: one INCRBY
 * numbers them all and one pipeline queues them with their cache writes.
 *
 * Workers rule: a request may only wait on I/O it started itself. The request that
 * opens a batch (its leader) sets the timer and sends the batch from its own context,
 * and its `waitUntil` waits for that. A request that joins an open batch hands its
 * record over and waits for nothing, so no request ever waits on a promise another
 * request's context must settle (workerd cancels such a request as hung).
 */
let open: Pending[] | undefined;
const BATCH_MAX = 64;
const BATCH_WAIT_MS = 2;

/**
 * Signs and stores the record after the response, sending `cacheWrite` with it.
 * The promise is the work this request owns: the batch it leads, or nothing when it
 * joined another request's batch.
 */
export function writeRecord(config: Config, record: AuditRecord, cacheWrite?: CacheWrite): Promise<void> {
  const item = { record, cacheWrite };
  if (open !== undefined && open.length < BATCH_MAX) {
    open.push(item);
    return Promise.resolve();
  }
  const batch: Pending[] = [item];
  open = batch;
  return new Promise<void>((resolve) => {
    setTimeout(() => {
      if (open === batch) open = undefined;
      void sendBatch(config, batch).then(() => resolve());
    }, BATCH_WAIT_MS);
  });
}

/**
 * Stores one record now, in the caller's context, and says where it went. Strict mode
 * answers by it: with nowhere durable the record is not held but reported "failed",
 * so the caller can refuse and record the refusal instead.
 */
export async function writeRecordNow(config: Config, record: AuditRecord, cacheWrite?: CacheWrite): Promise<Destination> {
  const [where] = await sendBatch(config, [{ record, cacheWrite }], { hold: false });
  return where!;
}

/** Numbers, signs and stores the batch; says where each record went, in order. */
async function sendBatch(config: Config, batch: Pending[], options = { hold: true }): Promise<Destination[]> {
  const redis = redisFor(config);
  const sql = postgresFor(config);
  const key = config.audit.hmacKey;
  const audited = sql !== undefined && key !== undefined;
  if (audited)
    await numberBatch(
      config,
      batch.map((item) => item.record),
    );
  const signed = audited ? await Promise.all(batch.map((item) => signRecord(item.record, key))) : [];
  const queued = signed.filter((record) => record.seq !== null);
  const cacheWrites = batch.flatMap((item) => (item.cacheWrite ? [item.cacheWrite] : []));
  const breakers = breakerCall(
    config,
    batch.flatMap((item) => reportsFrom(config, item.record)),
  );
  let redisTookQueue = false;
  if (redis !== undefined && (queued.length + cacheWrites.length > 0 || breakers !== undefined)) {
    try {
      const pipeline = redis.pipeline();
      // First, so its answer (the circuits it moved) is the pipeline's first.
      if (breakers !== undefined) pipeline.eval(BREAKER_SCRIPT, breakers.keys, breakers.args);
      if (queued.length > 0) pipeline.rpush(queueKey(config), ...queued.map((record) => JSON.stringify(record)));
      // NX: an entry lives out its TTL; no client's answer replaces another's early.
      for (const write of cacheWrites) pipeline.set(write.key, write.value, { ex: write.ttlSeconds, nx: true });
      const answers = await tracked("redis", () => pipeline.exec());
      if (breakers !== undefined) noteTransitions(config, answers[0]);
      redisTookQueue = true;
    } catch {
      // Redis failed: the records go to Postgres below; the cache entries stay in the isolate only
    }
  }
  if (!audited) return batch.map(() => "off");
  const rest = redisTookQueue ? signed.filter((record) => record.seq === null) : signed;
  let restWent: Destination = "postgres";
  if (rest.length > 0) {
    try {
      await insertRecords(sql, [...rest, ...held]);
      held.length = 0;
    } catch {
      if (options.hold) rest.forEach(hold);
      restWent = options.hold ? "held" : "failed";
    }
  }
  const inRest = new Set(rest.map((record) => record.request_id));
  return batch.map((item) => (inRest.has(item.record.request_id) ? restWent : "queued"));
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

function hold(record: SignedRecord): void {
  if (held.length >= HOLD_LIMIT) {
    held.shift();
    droppedFromHold += 1;
    console.error(JSON.stringify({ audit: "hold full: oldest record dropped", dropped: droppedFromHold }));
  }
  held.push(record);
}
