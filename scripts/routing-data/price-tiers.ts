/**
 * RouterBench's models in our five tiers by price, and the cost/quality frontier fixed
 * tiers draw: what a router's point must lie above to be worth its place. One home for
 * what the evaluation (scripts/eval/) and the threshold calibration (scripts/train/) share.
 */
import { type MultiPrompt, ROUTERBENCH_MODELS } from "./data.ts";

/** Mean cost (USD a prompt) and mean quality of a way of routing. */
export type CostQuality = { cost: number; quality: number };
/** Every prompt to one tier (its best model): a fixed setting a router must beat. */
export type FixedTier = CostQuality & { tier: number };

/** Models per tier, cheapest first: 2, 3, 3, 2 and 1 of the 11 by mean cost (two near-free, three ~3e-4 $, ...). */
const TIER_SIZES = [2, 3, 3, 2, 1];
/** The even cut points between the five tiers. */
export const BASE_CUTS = [0.2, 0.4, 0.6, 0.8];

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** The models of each tier, by price: the 2, 3, 3, 2 and 1 cheapest in turn. */
export function priceTiers(prompts: MultiPrompt[]): { tierModels: number[][]; byPrice: number[]; meanCost: number[] } {
  const meanCost = ROUTERBENCH_MODELS.map((_, m) => mean(prompts.map((p) => p.cost[m]!)));
  const byPrice = ROUTERBENCH_MODELS.map((_, m) => m).sort((a, b) => meanCost[a]! - meanCost[b]!);
  const tierModels: number[][] = [];
  let next = 0;
  for (const size of TIER_SIZES) {
    tierModels.push(byPrice.slice(next, next + size));
    next += size;
  }
  return { tierModels, byPrice, meanCost };
}

/** Each tier's best model on these prompts: highest mean quality, the cheaper on a tie. */
export function bestPerTier(prompts: MultiPrompt[], tierModels: number[][], meanCost: number[]): number[] {
  return tierModels.map((models) =>
    models.reduce((best, m) => {
      const q = mean(prompts.map((p) => p.quality[m]!));
      const qb = mean(prompts.map((p) => p.quality[best]!));
      return q > qb || (q === qb && meanCost[m]! < meanCost[best]!) ? m : best;
    }),
  );
}

/** Mean cost and quality when each prompt goes to its model in `chosen` (indices into ROUTERBENCH_MODELS). */
export function costQuality(prompts: MultiPrompt[], chosen: readonly number[]): CostQuality {
  return { cost: mean(prompts.map((p, i) => p.cost[chosen[i]!]!)), quality: mean(prompts.map((p, i) => p.quality[chosen[i]!]!)) };
}

/** Every prompt to one tier, for each tier in turn: the fixed settings a router must beat. */
export function fixedTiersOf(prompts: MultiPrompt[], route: (tiers: number[]) => CostQuality): FixedTier[] {
  return [1, 2, 3, 4, 5].map((tier) => ({ tier, ...route(prompts.map(() => tier)) }));
}

/** How far a point lies above the fixed tiers at its cost. */
export const gainOver = (fixedTiers: FixedTier[], point: CostQuality): number =>
  point.quality - (fixedTierFrontier(fixedTiers, point.cost)?.quality ?? Number.NEGATIVE_INFINITY);

/**
 * The most quality fixed tiers give at `cost`: one tier alone at no more than that cost, or a random mix of a
 * cheaper and a dearer tier that costs exactly that. What a router's point must lie above to be worth its place.
 */
export function fixedTierFrontier(fixedTiers: FixedTier[], cost: number): { quality: number; how: string } | undefined {
  let best: { quality: number; how: string } | undefined;
  const consider = (quality: number, how: string) => {
    if (best === undefined || quality > best.quality) best = { quality, how };
  };
  for (const a of fixedTiers) {
    if (a.cost <= cost) consider(a.quality, `tier ${a.tier} alone`);
    for (const b of fixedTiers) {
      if (a.cost < cost && b.cost > cost)
        consider(a.quality + ((cost - a.cost) / (b.cost - a.cost)) * (b.quality - a.quality), `mixing tiers ${a.tier} and ${b.tier}`);
    }
  }
  return best;
}
