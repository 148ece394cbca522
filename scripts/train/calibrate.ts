/**
 * Tier thresholds from the cost/quality data: on RouterBench, sweep the cut points
 * and take the knee of the curve (the point furthest above the line from the
 * cheapest setting to the dearest: the most quality per dollar); then turn those
 * cut points, which are score percentiles, into raw scores over the whole
 * benchmark mix (chat, questions, maths, code, hard prompts), closer to real traffic
 * than RouterBench alone.
 */
import type { ChatRequest } from "../../src/openai/chat-request.ts";
import { decodeModel, type SerializedModel } from "../../src/routing/model.ts";
import { scoreComplexity } from "../../src/routing/score.ts";
import { loadRouterBench } from "../eval/data.ts";
import { BASE_CUTS, bestPerTier, percentiles, priceTiers, SHIFTS, sweepTiers } from "../eval/multi-model.ts";

export function calibrate(serialized: SerializedModel, mix: string[]): [number, number, number, number] {
  const model = decodeModel(serialized);
  const prompts = loadRouterBench();
  const { tierModels, meanCost } = priceTiers(prompts);
  const best = bestPerTier(prompts, tierModels, meanCost);
  const score = (prompt: string): number => scoreComplexity({ model: "auto", messages: [{ role: "user", content: prompt }] } as ChatRequest, model).score;
  const percentile = percentiles(prompts.map((p) => score(p.prompt)));
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const points = SHIFTS.map((shift) => {
    const tiers = sweepTiers(percentile, shift);
    return {
      shift,
      cost: mean(prompts.map((p, i) => p.cost[best[tiers[i]! - 1]!]!)),
      quality: mean(prompts.map((p, i) => p.quality[best[tiers[i]! - 1]!]!)),
    };
  });
  const [low, high] = [points[points.length - 1]!, points[0]!]; // shift +1: all tier 1; shift -1: all tier 5
  const aboveLine = (p: { cost: number; quality: number }): number =>
    (p.quality - low.quality) / (high.quality - low.quality) - (p.cost - low.cost) / (high.cost - low.cost);
  const chosen = points.reduce((best, p) => (aboveLine(p) > aboveLine(best) ? p : best));
  const sorted = mix.map(score).sort((a, b) => a - b);
  const raw = BASE_CUTS.map((cut) => {
    const p = cut + chosen.shift;
    if (p <= 0) return 0;
    if (p >= 1) return 1;
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  });
  // Strictly increasing, inside (0, 1), as TIER_THRESHOLDS must be.
  const cuts = raw.map((c, i) => Math.min(1 - (4 - i) * 1e-4, Math.max((i + 1) * 1e-4, c)));
  for (let i = 1; i < 4; i++) if (cuts[i]! <= cuts[i - 1]!) cuts[i] = cuts[i - 1]! + 1e-4;
  return cuts.map((c) => Math.round(c * 1e4) / 1e4) as [number, number, number, number];
}
