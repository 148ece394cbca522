/**
 * The scheduled audit (the daily cron and `npm run audit`): verifies the log row by row
 * from the last clean run's checkpoint (gaps, duplicates, HMACs, the hash), and the
 * rows before it by a digest the database computes (a change there sends it back over
 * the whole log, to name the rows); compares the highest number with the Redis
 * counter so that deleted newest rows are caught too,
 * checks the last day's SLOs, and stores one row in `audit_runs`. Its result is
 * published to Redis for the metrics (`tiergate_audit_verification_ok` and the rest).
 */

import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { SloTargets } from "../config/observability.ts";
import { type IssuedNumbers, isClean, type Query, verifyAudit } from "./verify.ts";

export type Slo = { target: number; value: number | null; met: boolean };

export type AuditRun = {
  started_at: string;
  runner: string;
  from_seq: number;
  to_seq: number;
  checked: number;
  ok: boolean;
  problems: {
    gaps: number;
    duplicates: number;
    bad_hmac: number;
    missing_hash: number;
    issued_not_stored: number;
    /** 1 when rows at or before the last checkpoint changed since it was taken. */
    changed_before_checkpoint: number;
    detail: string[];
  };
  slos: Record<"overhead_p99_ms" | "cache_hit_rate" | "error_rate", Slo>;
};

/** The minimal Redis the audit reads and writes: the worker's and the scripts' Upstash clients both fit. */
export type AuditRedis = {
  get(key: string): Promise<unknown>;
  lrange(key: string, start: number, stop: number): Promise<unknown[]>;
  del(key: string): Promise<unknown>;
  hset(key: string, fields: Record<string, number>): Promise<unknown>;
};

/** Where the last run's verdict waits for the metrics (`tiergate_audit_*`). */
export const auditRunKey = (prefix: string): string => `${prefix}:metrics:audit`;

/** Replaces the published verdict with this run's. */
export async function publishAuditRun(redis: AuditRedis, prefix: string, run: AuditRun): Promise<void> {
  await redis.del(auditRunKey(prefix));
  await redis.hset(auditRunKey(prefix), auditRunFields(run));
}

/** What Redis says it issued: the counter, and the numbers still queued for the flush. */
export async function readIssued(redis: AuditRedis, prefix: string): Promise<IssuedNumbers> {
  const [counter, queue] = await Promise.all([redis.get(`${prefix}:audit:seq`), redis.lrange(`${prefix}:audit:queue`, 0, -1)]);
  const queued = queue.flatMap((item) => {
    const seq = /"seq":(\d+)/.exec(String(item))?.[1];
    return seq === undefined ? [] : [Number(seq)];
  });
  return { counter: Number(counter ?? 0), queued };
}

export async function runScheduledAudit(
  query: Query,
  hmacKey: string,
  issued: IssuedNumbers | undefined,
  targets: SloTargets,
  runner: string,
): Promise<AuditRun> {
  const startedAt = new Date();
  const [checkpoint] = await query("SELECT to_seq, digest FROM audit_runs WHERE ok ORDER BY id DESC LIMIT 1", []);
  let fromSeq = checkpoint === undefined ? 0 : Number(checkpoint.to_seq);
  const changed = checkpoint !== undefined && (await digestUpTo(query, fromSeq)) !== checkpoint.digest;
  if (changed) fromSeq = 0; // something before the checkpoint changed: walk it all, to name what
  const report = await verifyAudit(query, hmacKey, issued, { fromSeq });
  // The next checkpoint: the last number below which every record has landed (some may still wait in the queue).
  const waiting = (issued?.queued ?? []).filter((seq) => seq <= report.lastSeq);
  const toSeq = Math.min(report.lastSeq, ...waiting.map((seq) => seq - 1));
  const missing = report.issued?.missing ?? [];
  const count = (ranges: readonly { from: number; to: number }[]) => ranges.reduce((sum, r) => sum + r.to - r.from + 1, 0);
  const range = (r: { from: number; to: number }) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`);
  const run: AuditRun = {
    started_at: startedAt.toISOString(),
    runner,
    from_seq: fromSeq,
    to_seq: toSeq,
    checked: report.checked,
    ok: isClean(report) && !changed,
    problems: {
      gaps: count(report.gaps),
      duplicates: report.duplicates.length,
      bad_hmac: report.badHmac.length,
      missing_hash: report.missingHash.length,
      issued_not_stored: count(missing),
      changed_before_checkpoint: changed ? 1 : 0,
      // The first few of each, named, for whoever reads the row.
      detail: [
        ...(changed ? [`rows at or before seq ${checkpoint!.to_seq} changed since the audit that checkpointed them`] : []),
        ...report.gaps.slice(0, 20).map((r) => `gap: seq ${range(r)}`),
        ...report.duplicates.slice(0, 20).map((seq) => `duplicate: seq ${seq}`),
        ...report.badHmac.slice(0, 20).map((r) => `bad hmac: seq ${r.seq} request ${r.request_id}`),
        ...report.missingHash.slice(0, 20).map((r) => `no constitutional hash: seq ${r.seq} request ${r.request_id}`),
        ...missing.slice(0, 20).map((r) => `issued, not stored: seq ${range(r)}`),
      ],
    },
    slos: await daySlos(query, targets),
  };
  await query(
    `INSERT INTO audit_runs (started_at, runner, from_seq, to_seq, checked, ok, problems, slos, constitutional_hash, digest)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)`,
    [
      run.started_at,
      runner,
      run.from_seq,
      run.to_seq,
      run.checked,
      run.ok,
      JSON.stringify(run.problems),
      JSON.stringify(run.slos),
      CONSTITUTIONAL_HASH,
      await digestUpTo(query, toSeq),
    ],
  );
  return run;
}

/**
 * Every row up to `seq`, summarised in the database without sending a row: how many,
 * and the sum of a 60-bit piece of each whole row's MD5 (order-free, so it needs no
 * sort and constant memory). Any changed, added or deleted row changes it.
 */
async function digestUpTo(query: Query, seq: number): Promise<string> {
  const [row] = await query(
    `SELECT count(*) AS n, coalesce(sum(('x' || substr(md5(a::text), 1, 15))::bit(60)::bigint), 0) AS total FROM audit_log a WHERE seq <= $1`,
    [seq],
  );
  return `${row?.n ?? 0}:${row?.total ?? 0}`;
}

/** The last 24 hours against the targets: overhead p99, cache hit rate (of requests that could hit), 5xx share. */
async function daySlos(query: Query, targets: SloTargets): Promise<AuditRun["slos"]> {
  const [day] = await query(
    `SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY overhead_ms) AS p99,
            count(*) FILTER (WHERE cache_status = 'HIT')::float8 / NULLIF(count(*) FILTER (WHERE cache_status <> 'BYPASS'), 0) AS hit_rate,
            count(*) FILTER (WHERE http_status >= 500)::float8 / NULLIF(count(*), 0) AS error_rate
       FROM audit_log WHERE ts >= now() - interval '24 hours'`,
    [],
  );
  const value = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const p99 = value(day?.p99);
  const hit = value(day?.hit_rate);
  const errors = value(day?.error_rate);
  // No traffic, nothing missed: an SLO with no measurement is met.
  return {
    overhead_p99_ms: { target: targets.overheadP99Ms, value: p99, met: p99 === null || p99 <= targets.overheadP99Ms },
    cache_hit_rate: { target: targets.cacheHitRate, value: hit, met: hit === null || hit >= targets.cacheHitRate },
    error_rate: { target: targets.errorRate, value: errors, met: errors === null || errors <= targets.errorRate },
  };
}

/** The run as the metrics hash holds it: ok, when, each problem's count and each SLO's verdict. */
function auditRunFields(run: AuditRun): Record<string, number> {
  const fields: Record<string, number> = { ok: run.ok ? 1 : 0, ran_at: Math.floor(Date.parse(run.started_at) / 1000), checked: run.checked };
  for (const [kind, n] of Object.entries(run.problems)) if (typeof n === "number") fields[`problem:${kind}`] = n;
  for (const [name, slo] of Object.entries(run.slos)) fields[`slo:${name}`] = slo.met ? 1 : 0;
  return fields;
}
