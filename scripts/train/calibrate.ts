/**
 * Tier thresholds from the cost/quality data. On RouterBench, with its models put in
 * our five tiers by price, sweep the cut points (score percentiles, all moved by one
 * shift) and take, among the points that leave every tier reachable, the one furthest
 * above what fixed tiers give at its cost (one tier alone, or a random mix of two:
 * `fixedTierFrontier`); where none is above them, the knee of the curve. Then turn those cut points, which are score
 * percentiles, into raw scores over the whole benchmark mix (chat, questions, maths,
 * code, hard prompts), closer to real traffic than RouterBench alone.
 */
import type { ChatRequest } from "../../src/openai/chat-request.ts";
import { decodeModel, type SerializedModel } from "../../src/routing/model.ts";
import { scoreComplexity } from "../../src/routing/score.ts";
import { loadRouterBench } from "../eval/data.ts";
import { BASE_CUTS, bestPerTier, costQuality, fixedTierFrontier, fixedTiersOf, percentiles, priceTiers, SHIFTS, sweepTiers } from "../eval/multi-model.ts";

export function calibrate(serialized: SerializedModel, mix: string[]): [number, number, number, number] {
  const model = decodeModel(serialized);
  const prompts = loadRouterBench();
  const { tierModels, meanCost } = priceTiers(prompts);
  const best = bestPerTier(prompts, tierModels, meanCost);
  const score = (prompt: string): number => scoreComplexity({ model: "auto", messages: [{ role: "user", content: prompt }] } as ChatRequest, model).score;
  const percentile = percentiles(prompts.map((p) => score(p.prompt)));
  const route = (tiers: number[]) =>
    costQuality(
      prompts,
      tiers.map((tier) => best[tier - 1]!),
    );
  const fixedTiers = fixedTiersOf(prompts, route);
  // Every tier reachable: the lowest cut above 0 and the highest below 1.
  const reachable = SHIFTS.filter((shift) => BASE_CUTS[0]! + shift > 0.01 && BASE_CUTS[3]! + shift < 0.99);
  const points = reachable.map((shift) => ({ shift, ...route(sweepTiers(percentile, shift)) }));
  const gain = (p: { cost: number; quality: number }): number => p.quality - (fixedTierFrontier(fixedTiers, p.cost)?.quality ?? Number.NEGATIVE_INFINITY);
  // Where the scorer cannot beat fixed tiers at any reachable point, the knee of the curve: the point furthest above the
  // line from the cheapest setting to the dearest, the most quality per dollar.
  const [low, high] = [points[points.length - 1]!, points[0]!];
  const aboveLine = (p: { cost: number; quality: number }): number =>
    (p.quality - low.quality) / (high.quality - low.quality) - (p.cost - low.cost) / (high.cost - low.cost);
  const beating = points.filter((p) => gain(p) > 0);
  const chosen = beating.length > 0 ? beating.reduce((a, b) => (gain(b) > gain(a) ? b : a)) : points.reduce((a, b) => (aboveLine(b) > aboveLine(a) ? b : a));
  console.log(
    beating.length > 0
      ? `cut points: ${chosen.shift.toFixed(2)} from the base percentiles, ${gain(chosen).toFixed(3)} of quality above the fixed tiers at its cost`
      : `cut points: no reachable setting beats the fixed tiers on RouterBench (at best ${Math.max(...points.map(gain)).toFixed(3)}); the knee, ${chosen.shift.toFixed(2)} from the base percentiles`,
  );
  const sorted = mix.map(score).sort((a, b) => a - b);
  const raw = BASE_CUTS.map((cut) => sorted[Math.min(sorted.length - 1, Math.floor((cut + chosen.shift) * sorted.length))]!);
  // Strictly increasing, inside (0, 1), as TIER_THRESHOLDS must be.
  const cuts = raw.map((c, i) => Math.min(1 - (4 - i) * 1e-4, Math.max((i + 1) * 1e-4, c)));
  for (let i = 1; i < 4; i++) if (cuts[i]! <= cuts[i - 1]!) cuts[i] = cuts[i - 1]! + 1e-4;
  return cuts.map((c) => Math.round(c * 1e4) / 1e4) as [number, number, number, number];
}
