/**
 * When a rating counts, in one place for the route, the pruning and training: audit
 * row `a` shows that the key of rating `f` made the request, or `f` is the admin's
 * (no key). Other ratings are pending; a day after they were given they never will
 * count (audit rows reach Postgres within minutes), and the daily cron deletes them.
 * What a key can store meanwhile is bounded by its own request limit.
 */
import type { Sql } from "../storage/postgres.ts";

/** SQL over aliases `f` (feedback) and `a` (audit_log). */
export const COUNTED = "f.request_id = a.request_id AND (f.key_id IS NULL OR f.key_id = a.key_id)";

const PRUNE = `
  DELETE FROM feedback f
  WHERE f.created_at < now() - interval '1 day' AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE ${COUNTED})
  RETURNING 1 AS pruned`;

/** Deletes the pending ratings older than a day; how many. */
export async function prunePendingFeedback(sql: Sql): Promise<number> {
  return (await sql(PRUNE)).length;
}
