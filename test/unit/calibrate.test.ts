import { describe, expect, it } from "vitest";
import type { MultiPrompt } from "../../scripts/routing-data/data.ts";
import { bestPerTier, type CostQuality, costQuality, fixedTierFrontier, fixedTiersOf, priceTiers } from "../../scripts/routing-data/price-tiers.ts";
import { seeded } from "../../scripts/seeded-random.ts";
import { calibrate } from "../../scripts/train/calibrate.ts";
import type { Thresholds } from "../../src/routing/thresholds.ts";
import { selectTier } from "../../src/routing/tier.ts";

/**
 * A benchmark where routing pays: 11 models, each twice the price of the one before, answer a prompt mostly when its
 * difficulty is under their skill, which rises with price; the score is the difficulty, with noise.
 */
const random = seeded(11);
const scores = new Map<string, number>();
const prompts: MultiPrompt[] = Array.from({ length: 600 }, (_, i) => {
  const difficulty = random();
  scores.set(`p${i}`, Math.min(1, Math.max(0, difficulty + 0.1 * (random() - 0.5))));
  return {
    id: `p${i}`,
    prompt: `p${i}`,
    group: "synthetic",
    quality: Array.from({ length: 11 }, (_, m) => (random() < (difficulty < (m + 1) / 12 ? 0.95 : 0.1) ? 1 : 0)),
    cost: Array.from({ length: 11 }, (_, m) => 1e-5 * 2 ** m),
  };
});
const mix = Array.from({ length: 2_000 }, (_, j) => {
  scores.set(`m${j}`, random());
  return `m${j}`;
});
const score = (prompt: string): number => scores.get(prompt)!;

/** Routing every prompt through `thresholds` to its tier's best model, and how far that lies above the fixed tiers. */
function routed(thresholds: Thresholds): CostQuality & { gain: number } {
  const { tierModels, meanCost } = priceTiers(prompts);
  const best = bestPerTier(prompts, tierModels, meanCost);
  const route = (tiers: number[]) =>
    costQuality(
      prompts,
      tiers.map((tier) => best[tier - 1]!),
    );
  const point = route(prompts.map((p) => selectTier(score(p.prompt), thresholds)));
  return { ...point, gain: point.quality - fixedTierFrontier(fixedTiersOf(prompts, route), point.cost)!.quality };
}

describe("calibrating the default tier thresholds (train:router)", () => {
  const chosen = calibrate(score, mix, prompts);

  it("gives rising cut points that leave every tier at least a tenth of the mix", () => {
    const [a, b, c, d] = chosen.thresholds;
    expect(0 < a && a < b && b < c && c < d && d < 1).toBe(true);
    const tiers = mix.map((m) => selectTier(score(m), chosen.thresholds));
    for (let tier = 1; tier <= 5; tier++) expect(tiers.filter((t) => t === tier).length / tiers.length).toBeGreaterThanOrEqual(0.1 - 1e-3);
  });

  it("reports the cost, quality and gain the thresholds really give when prompts are routed through them", () => {
    const real = routed(chosen.thresholds);
    expect(chosen.cost).toBeCloseTo(real.cost, 12);
    expect(chosen.quality).toBeCloseTo(real.quality, 12);
    expect(chosen.gain).toBeCloseTo(real.gain, 12);
  });

  it("beats the fixed tiers where routing pays, and does at least as well as an even split of the mix", () => {
    expect(chosen.gain).toBeGreaterThan(0.02);
    const sorted = mix.map(score).sort((x, y) => x - y);
    const even = [0.2, 0.4, 0.6, 0.8].map((p) => sorted[p * sorted.length]!) as unknown as Thresholds;
    expect(chosen.gain).toBeGreaterThanOrEqual(routed(even).gain);
  });
});
