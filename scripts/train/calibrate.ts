/**
 * Tier thresholds from the cost/quality data. Each candidate cut point is a raw score
 * at a percentile of the whole benchmark mix (chat, questions, maths, code, hard
 * prompts; closer to real traffic than any one file), so every tier keeps at least a
 * tenth of that mix. On RouterBench, with its models put in our five tiers by price,
 * each set of four cut points routes every prompt to its tier's best model; the set
 * chosen is the one furthest above what fixed tiers give at its cost (one tier alone,
 * or a random mix of two: `fixedTierFrontier`). The cut points RouterBench cannot tell
 * apart (no prompt of it lies between them) stay as near the even split as they can.
 */
import type { Thresholds } from "../../src/routing/thresholds.ts";
import type { MultiPrompt } from "../routing-data/data.ts";
import { BASE_CUTS, bestPerTier, costQuality, fixedTierFrontier, fixedTiersOf, gainOver, priceTiers } from "../routing-data/price-tiers.ts";

/** Cut points are taken at the mix's percentiles in steps of this. */
const STEP = 0.025;
/** The least share of the mix each tier keeps: a default must use every tier for traffic unlike the benchmark's. */
const MIN_TIER_SHARE = 0.1;

export type Calibration = {
  thresholds: Thresholds;
  /** The mix's percentile of each cut point. */
  percentiles: number[];
  /** On the calibration prompts, at these thresholds. */
  cost: number;
  quality: number;
  /** Quality above the best fixed tiers at that cost (negative: below). */
  gain: number;
  /** Which fixed tiers those are. */
  against: string;
};

/** The thresholds for `score`: cut points on the percentiles of `mix`, chosen by cost and quality on `prompts` (RouterBench's). */
export function calibrate(score: (prompt: string) => number, mix: string[], prompts: MultiPrompt[]): Calibration {
  const sorted = mix.map(score).sort((a, b) => a - b);
  const steps = Math.round(1 / STEP);
  // Rounded as TIER_THRESHOLDS is written, so what is judged here is what is shipped.
  const cutAt = (position: number): number => Math.round(sorted[Math.floor(position * STEP * sorted.length)]! * 1e4) / 1e4;
  const cuts = Array.from({ length: steps }, (_, position) => cutAt(position));

  const { tierModels, meanCost } = priceTiers(prompts);
  const best = bestPerTier(prompts, tierModels, meanCost);
  const fixedTiers = fixedTiersOf(prompts, (tiers) =>
    costQuality(
      prompts,
      tiers.map((tier) => best[tier - 1]!),
    ),
  );
  // cell[i]: the last candidate cut prompt i's score reaches. A prompt in cell c is above a cut at position p when p <= c.
  const cell = prompts.map((p) => {
    const s = score(p.prompt);
    let c = 0;
    while (c + 1 < steps && cuts[c + 1]! <= s) c++;
    return c;
  });
  // below[t][c]: total cost and quality of the prompts in cells under c, each sent to tier t + 1's best model.
  const below = best.map((model) => {
    const sums = Array.from({ length: steps + 1 }, () => ({ cost: 0, quality: 0 }));
    prompts.forEach((p, i) => {
      sums[cell[i]! + 1]!.cost += p.cost[model]!;
      sums[cell[i]! + 1]!.quality += p.quality[model]!;
    });
    for (let c = 1; c <= steps; c++) sums[c] = { cost: sums[c - 1]!.cost + sums[c]!.cost, quality: sums[c - 1]!.quality + sums[c]!.quality };
    return sums;
  });

  const least = Math.round(MIN_TIER_SHARE / STEP);
  const even = BASE_CUTS.map((cut) => Math.round(cut / STEP));
  let chosen: { positions: number[]; cost: number; quality: number; gain: number; distance: number } | undefined;
  for (const positions of cutPositions(steps, least)) {
    if (positions.some((p, i) => i > 0 && cuts[p]! <= cuts[positions[i - 1]!]!)) continue;
    // Tier t + 1 takes the cells from bounds[t] up to bounds[t + 1].
    const bounds = [0, ...positions, steps];
    let [cost, quality] = [0, 0];
    for (let t = 0; t < 5; t++) {
      cost += below[t]![bounds[t + 1]!]!.cost - below[t]![bounds[t]!]!.cost;
      quality += below[t]![bounds[t + 1]!]!.quality - below[t]![bounds[t]!]!.quality;
    }
    [cost, quality] = [cost / prompts.length, quality / prompts.length];
    const gain = gainOver(fixedTiers, { cost, quality });
    const distance = positions.reduce((sum, p, i) => sum + Math.abs(p - even[i]!), 0);
    if (chosen === undefined || gain > chosen.gain || (gain === chosen.gain && distance < chosen.distance))
      chosen = { positions, cost, quality, gain, distance };
  }
  const { positions, cost, quality, gain } = chosen!;
  return {
    thresholds: positions.map((p) => cuts[p]!) as unknown as Thresholds,
    percentiles: positions.map((p) => p * STEP),
    cost,
    quality,
    gain,
    against: fixedTierFrontier(fixedTiers, cost)?.how ?? "none",
  };
}

/** Every rising set of four cut positions in 1..steps−1 leaving each of the five tiers at least `least` positions. */
function* cutPositions(steps: number, least: number): Generator<number[]> {
  for (let a = least; a <= steps - 4 * least; a++)
    for (let b = a + least; b <= steps - 3 * least; b++)
      for (let c = b + least; c <= steps - 2 * least; c++) for (let d = c + least; d <= steps - least; d++) yield [a, b, c, d];
}
