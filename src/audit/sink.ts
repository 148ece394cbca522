/**
 * Where audit records go. Failure policy, in order:
 * 1. numbered by Redis INCR and pushed to the Redis queue (with the request's cache write, one pipeline);
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

/** The next global sequence number, or `undefined` when Redis cannot give one. */
export async function reserveSequence(config: Config): Promise<number | undefined> {
  const redis = redisFor(config);
  if (redis === undefined || config.postgres === undefined) return undefined;
  try {
    return await tracked("redis", () => redis.incr(sequenceKey(config)));
  } catch {
    return undefined;
  }
}

/** Signs and stores the record, sending `cacheWrite` with it; says where the record went. */
export async function writeRecord(config: Config, record: AuditRecord, cacheWrite?: CacheWrite): Promise<Destination> {
  const redis = redisFor(config);
  const sql = postgresFor(config);
  const key = config.audit.hmacKey;
  const signed = sql !== undefined && key !== undefined ? await signRecord(record, key) : undefined;
  const queue = signed !== undefined && signed.seq !== null;
  if (redis !== undefined && (queue || cacheWrite !== undefined)) {
    try {
      const pipeline = redis.pipeline();
      if (queue) pipeline.rpush(queueKey(config), JSON.stringify(signed));
      if (cacheWrite) pipeline.set(cacheWrite.key, cacheWrite.value, { ex: cacheWrite.ttlSeconds });
      await tracked("redis", () => pipeline.exec());
      if (queue) return "queued";
    } catch {
      // Redis failed: the record goes to Postgres below; the cache entry stays in the isolate only
    }
  }
  if (signed === undefined || sql === undefined) return "off";
  try {
    await insertRecords(sql, [signed, ...held]);
    held.length = 0;
    return "postgres";
  } catch {
    hold(signed);
    return "held";
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
