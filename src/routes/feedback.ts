/**
 * POST /v1/feedback: a client rates an answer it received, by its request id (the
 * `x-request-id` of the answer): good or bad, or a score from 0 to 1, and optionally
 * that a stronger or a cheaper tier should have answered.
 *
 * One rating per request and rater: sending the same one again is answered as before;
 * a different one is a 409. A rating is `counted` once the audit row shows the rater
 * made the request (the admin may rate any), and `pending` until then: the audit log
 * takes rows from the Redis queue every minute. The answer for another key's request
 * is the answer for an id that never existed, pending, so a key learns nothing of
 * others' requests and cannot claim their rating. Training reads only counted ratings
 * (`npm run train:router -- --from-audit`); the daily job deletes pending ones after a day.
 */
import type { Context } from "hono";
import * as z from "zod";
import { COUNTED } from "../audit/ratings.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";
import { type Row, routeSql } from "../storage/postgres.ts";

const FeedbackSchema = z
  .strictObject({
    request_id: z.uuid(),
    rating: z.enum(["good", "bad"]).optional(),
    score: z.number().min(0).max(1).optional(),
    better_tier: z.enum(["stronger", "cheaper"]).optional(),
  })
  .refine((feedback) => feedback.rating !== undefined || feedback.score !== undefined, {
    message: "give a rating ('good' or 'bad') or a score from 0 to 1",
    path: ["rating"],
  });

const COLUMNS = "request_id, key_id, rating, score, better_tier, created_at";
/** Whether the rating counts, read with it: one statement for a new rating, the audit row looked up in it. */
const WITH_COUNTED = `f.*, EXISTS (SELECT 1 FROM audit_log a WHERE ${COUNTED}) AS counted`;
const INSERT = `
  WITH f AS (
    INSERT INTO feedback (request_id, key_id, rating, score, better_tier) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (request_id, (coalesce(key_id, ''))) DO NOTHING RETURNING ${COLUMNS})
  SELECT ${WITH_COUNTED} FROM f`;
const EXISTING = `SELECT ${WITH_COUNTED} FROM feedback f WHERE f.request_id = $1 AND f.key_id IS NOT DISTINCT FROM $2`;

export async function feedback(c: Context<With<KeyVariables>>): Promise<Response> {
  c.header("cache-control", "no-store");
  const { config, sql, stores } = c.get("services");
  if (sql === undefined) throw new ApiError(503, "Feedback lives in Postgres: set DATABASE_URL", { code: "feedback_not_configured" });
  const given = await readJsonBody(c.req.raw, config.maxBodyBytes, FeedbackSchema);
  const caller = c.get("caller");
  const keyId = caller === undefined || caller.admin ? null : caller.keyId;
  const unavailable = (cause?: unknown) =>
    new ApiError(503, "Feedback cannot be stored right now; send it again shortly", { code: "feedback_unavailable", cause });
  const run = routeSql(sql, stores.tracked, unavailable);
  const values = [given.request_id, keyId, given.rating ?? null, given.score ?? null, given.better_tier ?? null];
  const [stored] = await run(INSERT, values);
  if (stored !== undefined) return c.json(shown(stored), 201);
  const [existing] = await run(EXISTING, [given.request_id, keyId]);
  if (existing === undefined) throw unavailable();
  const same = existing.rating === values[2] && (existing.score === null ? null : Number(existing.score)) === values[3] && existing.better_tier === values[4];
  if (!same) {
    throw new ApiError(409, `Request ${given.request_id} was already rated; a rating cannot be changed`, { code: "feedback_exists", param: "request_id" });
  }
  return c.json(shown(existing), 200);
}

function shown(row: Row) {
  const created = row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at));
  return {
    object: "feedback",
    request_id: String(row.request_id),
    rating: row.rating ?? null,
    score: row.score === null ? null : Number(row.score),
    better_tier: row.better_tier ?? null,
    created_at: created.toISOString(),
    status: row.counted === true ? "counted" : "pending",
  };
}
