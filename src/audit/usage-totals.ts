/**
 * A key's tokens by usage class, summed from its audit rows, for today and this month
 * (UTC, as budgets count). One statement, served by the (key_id, ts) index and the
 * monthly partitions. As current as the audit log: the flush moves records in every minute.
 */
import type { Tracked } from "../storage/availability.ts";
import type { Sql } from "../storage/postgres.ts";

/** Tokens in each class (the cache classes are parts of `prompt_tokens`, reasoning of `completion_tokens`) and what they were charged. */
export type UsageTotals = {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
};

const COLUMNS = ["prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens"] as const;

// cost_usd holds whole micro-dollars as a double: summed as integers, so the total is exact.
const STATEMENT = `SELECT ts >= $3 AS today, count(*) AS requests, ${COLUMNS.map((column) => `coalesce(sum(${column}), 0) AS ${column}`).join(", ")},
  coalesce(sum(round(cost_usd * 1000000)), 0) AS cost_micros
FROM audit_log WHERE key_id = $1 AND ts >= $2 GROUP BY 1`;

/**
 * The key's totals today and this month. Failure policy: a Postgres that is down or slow
 * rejects, and the caller answers without them; nothing else depends on them.
 */
export async function usageTotals(sql: Sql, tracked: Tracked, keyId: string, now = new Date()): Promise<{ today: UsageTotals; month: UsageTotals }> {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const rows = await tracked("postgres", () => sql(STATEMENT, [keyId, month.toISOString(), day.toISOString()]));
  const today = totalsOf(rows.filter((row) => row.today === true));
  return { today, month: totalsOf(rows) };
}

/** The rows' sums added up (bigint sums come back as text). */
function totalsOf(rows: readonly Record<string, unknown>[]): UsageTotals {
  const sum = (column: string): number => rows.reduce((total, row) => total + Number(row[column] ?? 0), 0);
  return {
    requests: sum("requests"),
    prompt_tokens: sum("prompt_tokens"),
    completion_tokens: sum("completion_tokens"),
    cache_read_tokens: sum("cache_read_tokens"),
    cache_write_tokens: sum("cache_write_tokens"),
    cache_write_1h_tokens: sum("cache_write_1h_tokens"),
    reasoning_tokens: sum("reasoning_tokens"),
    cost_usd: sum("cost_micros") / 1e6,
  };
}
