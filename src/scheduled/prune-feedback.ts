/**
 * The daily cron's feedback pruning: a rating no audit row has counted a day after it
 * was given (a rating of another key's request, or of an id that never existed) will
 * never count, and is deleted. Audit rows reach Postgres within minutes, so a day
 * leaves every real rating its row. What a key can store meanwhile is bounded by its
 * own request limit.
 */
import type { Sql } from "../storage/postgres.ts";

const PRUNE = `
  DELETE FROM feedback f
  WHERE f.created_at < now() - interval '1 day'
    AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.request_id = f.request_id AND (f.key_id IS NULL OR a.key_id = f.key_id))
  RETURNING 1 AS pruned`;

/** Deletes the pending ratings older than a day; how many. */
export async function prunePendingFeedback(sql: Sql): Promise<number> {
  return (await sql(PRUNE)).length;
}
