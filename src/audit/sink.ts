/**
 * Where audit records go. Failure policy, in order:
 * 1. numbered by Redis INCRBY and pushed to the Redis queue (with the cache writes, one pipeline per batch);
 * 2. Redis unreachable: straight into Postgres (unnumbered if INCR failed; the flush numbers it later);
 * 3. both unreachable: held in the isolate and retried by the next write and by the cron.
 * Nothing is dropped silently: a full hold drops its oldest record and counts it.
 */
import type { Config } from "../config/env.ts";
import type { CacheWrite } from "../cache/response-cache.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor, type Sql } from "../storage/postgres.ts";
import { redisFor, redisKey } from "../storage/redis.ts";
import { signRecord, type AuditRecord, type SignedRecord } from "./record.ts";

export type Destination = "queued" | "postgres" | "held" | "off";

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

type Pending = { record: AuditRecord; cacheWrite: CacheWrite | undefined; done: (where: Destination) => void };

/** Records that wait for the next batch: a burst of requests shares one numbering call and one pipeline. */
const pending: Pending[] = [];
const BATCH_MAX = 64;
const BATCH_WAIT_MS = 2;
let timer: ReturnType<typeof setTimeout> | undefined;

/**
 * Signs and stores the record, sending `cacheWrite` with it; resolves with where the
 * record went. Records written within a couple of milliseconds of each other in an
 * isolate travel together: one INCRBY numbers them all, one pipeline queues them
 * with their cache writes.
 */
export function writeRecord(config: Config, record: AuditRecord, cacheWrite?: CacheWrite): Promise<Destination> {
  return new Promise((done) => {
    pending.push({ record, cacheWrite, done });
    if (pending.length >= BATCH_MAX) void writeBatch(config);
    else timer ??= setTimeout(() => void writeBatch(config), BATCH_WAIT_MS);
  });
}

async function writeBatch(config: Config): Promise<void> {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  const batch = pending.splice(0, pending.length);
  if (batch.length === 0) return;
  const redis = redisFor(config);
  const sql = postgresFor(config);
  const key = config.audit.hmacKey;
  const audited = sql !== undefined && key !== undefined;
  if (audited) await numberBatch(config, batch.map((item) => item.record));
  const signed = audited ? await Promise.all(batch.map((item) => signRecord(item.record, key))) : [];
  const queued = signed.filter((record) => record.seq !== null);
  const cacheWrites = batch.flatMap((item) => (item.cacheWrite ? [item.cacheWrite] : []));
  let redisTookQueue = false;
  if (redis !== undefined && queued.length + cacheWrites.length > 0) {
    try {
      const pipeline = redis.pipeline();
      if (queued.length > 0) pipeline.rpush(queueKey(config), ...queued.map((record) => JSON.stringify(record)));
      for (const write of cacheWrites) pipeline.set(write.key, write.value, { ex: write.ttlSeconds });
      await tracked("redis", () => pipeline.exec());
      redisTookQueue = true;
    } catch {
      // Redis failed: the records go to Postgres below; the cache entries stay in the isolate only
    }
  }
  if (!audited) return batch.forEach((item) => item.done("off"));
  const rest = redisTookQueue ? signed.filter((record) => record.seq === null) : signed;
  let restWent: Destination = "postgres";
  if (rest.length > 0) {
    try {
      await insertRecords(sql, [...rest, ...held]);
      held.length = 0;
    } catch {
      rest.forEach(hold);
      restWent = "held";
    }
  }
  const inRest = new Set(rest.map((record) => record.request_id));
  batch.forEach((item) => item.done(inRest.has(item.record.request_id) ? restWent : "queued"));
}

/** Gives the batch's unnumbered records consecutive numbers with one INCRBY; leaves them unnumbered if Redis cannot. */
async function numberBatch(config: Config, records: AuditRecord[]): Promise<void> {
  const redis = redisFor(config);
  const unnumbered = records.filter((record) => record.seq === null);
  if (redis === undefined || unnumbered.length === 0) return;
  try {
    const last = await tracked("redis", () => redis.incrby(sequenceKey(config), unnumbered.length));
    unnumbered.forEach((record, i) => (record.seq = last - unnumbered.length + 1 + i));
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
  await tracked("postgres", () =>
    sql(
      `INSERT INTO audit_log SELECT * FROM json_populate_recordset(NULL::audit_log, $1::json) ON CONFLICT DO NOTHING`,
      [json],
    ),
  );
}

function hold(record: SignedRecord): void {
  if (held.length >= HOLD_LIMIT) {
    held.shift();
    droppedFromHold += 1;
    console.error(JSON.stringify({ audit: "hold full: oldest record dropped", dropped: droppedFromHold }));
  }
  held.push(record);
}
