/**
 * The flush (cron, every minute): drains the Redis queue into Postgres in batches,
 * one multi-row insert each, idempotent on the sequence number; numbers the rows
 * that went straight to Postgres while Redis was down; retries the isolate's hold.
 * Failure policy: whatever cannot move now stays where it is for the next run.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { isOutage, type Tracked } from "../storage/availability.ts";
import type { Sql } from "../storage/postgres.ts";
import { redisKey } from "../storage/redis.ts";
import { type LuaScript, runScript } from "../storage/scripts.ts";
import { type AuditSigner, hasValidHmac, recordFromRow, signRecord } from "./record.ts";
import { type AuditSink, insertRecords, queueKey, sequenceKey } from "./sink.ts";

/** What the flush works with: the isolate's stores, its signer and its hold. */
export type FlushDeps = {
  config: { keyPrefix: string; audit: { flushBatch: number } };
  redis: Redis | undefined;
  sql: Sql | undefined;
  signer: AuditSigner | undefined;
  auditSink: Pick<AuditSink, "retryHeld">;
  stores: { tracked: Tracked };
};

export type FlushReport = {
  inserted: number;
  numbered: number;
  fromHold: number;
  /** Unnumbered rows whose HMAC does not match: left for audit:verify to name, never re-signed. */
  refusedToNumber: number;
  /** Queued records Postgres refused: moved to audit_quarantine with their sequence numbers, so the rest can land. */
  quarantined: number;
  skipped?: string;
  /** Why the run stopped early; what it did not move waits for the next run. */
  error?: string;
};

/** Raises the counter to at least `ARGV[1]`; atomic, so a concurrent INCR is never lost. */
export const RAISE_COUNTER: LuaScript = {
  source: `#!lua flags=allow-key-locking
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return current`,
  sha1: "39c97057f2d33dd8ad386a9375cf0170f506f492",
};

/**
 * A Redis that lost its data (a restart without persistence, a FLUSHALL) would
 * hand out numbers already used; the highest number Postgres holds puts it right.
 */
async function keepCounterAhead(deps: FlushDeps, redis: Redis, sql: Sql): Promise<void> {
  const { config } = deps;
  const { tracked } = deps.stores;
  const [row] = await tracked("postgres", () => sql("SELECT coalesce(max(seq), 0) AS max FROM audit_log"));
  const queued = await tracked("redis", () => redis.llen(queueKey(config)));
  if (queued > 0) return; // numbers in the queue are above Postgres's; the counter is already past them
  await tracked("redis", () => runScript(redis, RAISE_COUNTER, [sequenceKey(config)], [String(row?.max ?? 0)]));
}

/** At most this many batches per run, so one run stays well inside the cron's time. */
const MAX_BATCHES = 20;

export async function flushAudit(deps: FlushDeps): Promise<FlushReport> {
  const report: FlushReport = { inserted: 0, numbered: 0, fromHold: 0, refusedToNumber: 0, quarantined: 0 };
  const { config, sql, redis, signer } = deps;
  const { tracked } = deps.stores;
  if (sql === undefined || signer === undefined) return { ...report, skipped: "no DATABASE_URL" };
  report.fromHold = await deps.auditSink.retryHeld();
  if (redis === undefined) return { ...report, skipped: "no Redis: records go straight to Postgres" };

  const lock = redisKey(config, "audit", "flush-lock");
  const owner = crypto.randomUUID();
  try {
    const locked = await tracked("redis", () => redis.set(lock, owner, { nx: true, px: 55_000 }));
    if (locked === null) return { ...report, skipped: "another flush holds the lock" };
    await keepCounterAhead(deps, redis, sql);
    const batch = config.audit.flushBatch;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const items = await tracked("redis", () => redis.lrange<string>(queueKey(config), 0, batch - 1));
      if (items.length === 0) break;
      const refused = await insertOrQuarantine(sql, tracked, items);
      // Only after the insert: a crash in between re-inserts next run, and the insert skips duplicates.
      await tracked("redis", () => redis.ltrim(queueKey(config), items.length, -1));
      report.inserted += items.length - refused;
      report.quarantined += refused;
      if (items.length < batch) break;
    }
    const unnumbered = await tracked("postgres", () => sql("SELECT * FROM audit_log WHERE seq IS NULL ORDER BY ts, request_id LIMIT $1", [batch]));
    for (const row of unnumbered) {
      const { record, hmac } = recordFromRow(row);
      if (!(await hasValidHmac(record, hmac, signer.record))) {
        report.refusedToNumber += 1;
        continue;
      }
      const seq = await tracked("redis", () => redis.incr(sequenceKey(config)));
      const signed = await signRecord({ ...record, seq }, signer.record);
      await tracked("postgres", () =>
        sql("UPDATE audit_log SET seq = $1, hmac = $2 WHERE request_id = $3 AND ts = $4 AND seq IS NULL", [seq, signed.hmac, record.request_id, record.ts]),
      );
      report.numbered += 1;
    }
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
  } finally {
    const holder = await redis.get<string>(lock).catch(() => null);
    if (holder === owner) await redis.del(lock).catch(() => {});
  }
  return report;
}

/**
 * Inserts the queued records; when Postgres refuses the batch for what is in it (not
 * for being down), inserts them one by one and moves each it refuses, as it came out
 * of the queue and with Postgres's reason, to audit_quarantine. Returns how many were
 * quarantined. An outage is thrown: everything stays queued for the next run.
 */
async function insertOrQuarantine(sql: Sql, tracked: Tracked, items: string[]): Promise<number> {
  try {
    await insertRecords(sql, tracked, items);
    return 0;
  } catch (error) {
    if (isOutage(error)) throw error;
  }
  let refused = 0;
  for (const item of items) {
    try {
      await insertRecords(sql, tracked, [item]);
    } catch (error) {
      if (isOutage(error)) throw error;
      await quarantine(sql, tracked, item, error);
      refused += 1;
    }
  }
  return refused;
}

async function quarantine(sql: Sql, tracked: Tracked, item: string, error: unknown): Promise<void> {
  const { seq, request_id } = identify(item);
  const reason = (error instanceof Error ? error.message : String(error)).slice(0, 500);
  console.error(JSON.stringify({ audit: "record quarantined", seq, request_id, reason }));
  await tracked("postgres", () =>
    sql("INSERT INTO audit_quarantine (seq, request_id, record, error) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) WHERE seq IS NOT NULL DO NOTHING", [
      seq,
      request_id,
      item.replaceAll("\0", "\\u0000"),
      reason,
    ]),
  );
}

/** The sequence number and request id of a queued record, read leniently: it may be the very thing that is malformed. */
function identify(item: string): { seq: number | null; request_id: string | null } {
  try {
    const parsed = JSON.parse(item) as { seq?: unknown; request_id?: unknown };
    return {
      seq: Number.isSafeInteger(parsed.seq) ? (parsed.seq as number) : null,
      request_id: typeof parsed.request_id === "string" ? parsed.request_id.slice(0, 64) : null,
    };
  } catch {
    const seq = /"seq"\s*:\s*(\d{1,15})\b/.exec(item)?.[1];
    return { seq: seq === undefined ? null : Number(seq), request_id: null };
  }
}
