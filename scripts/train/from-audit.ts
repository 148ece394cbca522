/**
 * Training from a deployment's own traffic: the audit rows clients rated through
 * POST /v1/feedback, each with the feature vector its decision saw. A rating becomes
 * a target score for that vector: "stronger" (or a bad rating that names no tier)
 * asks for a score above the top of the tier that answered, "cheaper" for one below
 * its bottom, and a good rating keeps the score where it was. The public data stays
 * in as a prior (or, without it, training starts from the current model), so a few
 * ratings bend the model instead of replacing it.
 */

import { COUNTED } from "../../src/audit/ratings.ts";
import { FEATURES } from "../../src/routing/features.ts";
import type { RouterModel } from "../../src/routing/model.ts";
import { scoreOfVector } from "../../src/routing/score.ts";
import type { Thresholds } from "../../src/routing/thresholds.ts";
import { selectTier } from "../../src/routing/tier.ts";
import { seeded } from "../seeded-random.ts";

export type RatedRequest = {
  features: number[];
  tier: number;
  score: number;
  /** What the client wanted instead: a stronger tier, a cheaper one, or the same (a good answer). */
  wanted: "stronger" | "cheaper" | "same";
};

/** How far past a tier's edge a rating asks the score to move. */
const MARGIN = 0.05;

type Query = (text: string) => Promise<Record<string, unknown>[]>;
/** Audit rows of requests that were routed and served, with the vector their decision saw. */
const SERVED = "a.features IS NOT NULL AND a.tier IS NOT NULL AND a.http_status < 400";

/** A row's feature vector, if this version's scorer made it (same length); else undefined. */
function vectorOf(row: Record<string, unknown>): number[] | undefined {
  const features = (typeof row.features === "string" ? JSON.parse(row.features) : row.features) as unknown;
  return Array.isArray(features) && features.length === FEATURES.length ? (features as number[]) : undefined;
}

/**
 * The rated requests that were served, from the audit log joined to feedback. A
 * rating counts only from the key that made the request (or with no key at all; the
 * owner's rating first where both rated), and
 * only for rows with a feature vector of this version's length; `stale` counts the
 * rated rows whose vector an older version made (other features, other meanings).
 */
export async function ratedRequests(query: Query): Promise<{ rated: RatedRequest[]; stale: number }> {
  const rows = await query(`
    SELECT DISTINCT ON (a.request_id) a.request_id, a.features, a.tier, a.score, f.rating, f.score AS rated, f.better_tier
    FROM audit_log a JOIN feedback f ON ${COUNTED}
    WHERE ${SERVED}
    ORDER BY a.request_id, f.key_id IS NULL`);
  let stale = 0;
  const rated = rows.flatMap((row): RatedRequest[] => {
    const features = vectorOf(row);
    if (features === undefined) {
      stale += 1;
      return [];
    }
    const bad = row.rating === "bad" || (row.rating === null && Number(row.rated) < 0.5);
    const wanted = row.better_tier === "stronger" || row.better_tier === "cheaper" ? row.better_tier : bad ? "stronger" : "same";
    return [{ features, tier: Number(row.tier), score: Number(row.score), wanted }];
  });
  return { rated, stale };
}

/** The score a rated request should have had, under the thresholds it was routed by. */
export function targetOf(request: RatedRequest, thresholds: Thresholds): number {
  const cuts = [0, ...thresholds, 1];
  if (request.wanted === "stronger") return Math.min(1, cuts[request.tier]! + MARGIN);
  if (request.wanted === "cheaper") return Math.max(0, cuts[request.tier - 1]! - MARGIN);
  return request.score;
}

/** A seeded split: a quarter (at least one) held out to judge on. */
export function holdOut(requests: RatedRequest[], seed: number): { train: RatedRequest[]; test: RatedRequest[] } {
  const random = seeded(seed);
  const order = requests.map((request) => ({ request, key: random() })).sort((a, b) => a.key - b.key);
  const cut = Math.max(1, Math.round(requests.length / 4));
  return { test: order.slice(0, cut).map((o) => o.request), train: order.slice(cut).map((o) => o.request) };
}

/** The share of held-out requests a model routes the way their rating asked: higher, lower, or to the same tier. */
export function agreement(model: RouterModel, thresholds: Thresholds, requests: RatedRequest[]): number {
  if (requests.length === 0) return Number.NaN;
  const agrees = requests.filter((request) => {
    const tier = selectTier(scoreOfVector(request.features, model), thresholds);
    return request.wanted === "stronger" ? tier > request.tier : request.wanted === "cheaper" ? tier < request.tier : tier === request.tier;
  });
  return agrees.length / requests.length;
}

/** The served requests no one rated, newest first (at most `limit`), as their feature vectors of this version's length. */
export async function unratedVectors(query: Query, limit: number): Promise<number[][]> {
  const rows = await query(`
    SELECT a.features FROM audit_log a
    WHERE ${SERVED} AND NOT EXISTS (SELECT 1 FROM feedback f WHERE ${COUNTED})
    ORDER BY a.ts DESC LIMIT ${Math.floor(limit)}`);
  return rows.flatMap((row) => {
    const features = vectorOf(row);
    return features === undefined ? [] : [features];
  });
}

/**
 * How a new model would re-route traffic no one rated: the share of requests that change tier, and the share that move
 * two tiers or more. The ratings ask to move requests like the rated ones; a model that moves much of the rest as far
 * has learned something the ratings did not say.
 */
export function tierShift(vectors: number[][], current: RouterModel, next: RouterModel, thresholds: Thresholds): { moved: number; movedFar: number } {
  if (vectors.length === 0) return { moved: 0, movedFar: 0 };
  let moved = 0;
  let movedFar = 0;
  for (const vector of vectors) {
    const step = Math.abs(selectTier(scoreOfVector(vector, next), thresholds) - selectTier(scoreOfVector(vector, current), thresholds));
    if (step > 0) moved += 1;
    if (step > 1) movedFar += 1;
  }
  return { moved: moved / vectors.length, movedFar: movedFar / vectors.length };
}
