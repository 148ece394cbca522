import { describe, expect, it } from "vitest";
import { aiq, pairMetrics, rocAuc, spearman, upperHull } from "../../scripts/eval/metrics.ts";

describe("pairMetrics (RouteLLM's APGR and CPT)", () => {
  // Prompts where only the strong model is right (gap 1), where both are right, where both are wrong.
  const rows = [
    { score: 0.9, strong: 1, weak: 0 },
    { score: 0.8, strong: 1, weak: 0 },
    { score: 0.2, strong: 1, weak: 1 },
    { score: 0.1, strong: 0, weak: 0 },
  ];
  const ties = [0, 1, 2, 3];

  it("scores a router that sends exactly the gap prompts first near the top", () => {
    const m = pairMetrics(rows, ties);
    expect(m.weakAcc).toBe(0.25);
    expect(m.strongAcc).toBe(0.75);
    // accuracy at 0..4 strong calls: .25 .5 .75 .75 .75 -> trapezoid area .625 -> APGR (.625-.25)/.5
    expect(m.apgr).toBeCloseTo(0.75, 10);
    expect(m.cpt50).toBe(0.25);
    expect(m.cpt80).toBe(0.5);
  });

  it("scores the reverse order low, and is symmetric around random", () => {
    const reversed = pairMetrics(
      rows.map((r) => ({ ...r, score: -r.score })),
      ties,
    );
    expect(reversed.apgr).toBeCloseTo(0.25, 10);
    expect(pairMetrics(rows, ties).apgr + reversed.apgr).toBeCloseTo(1, 10);
  });

  it("breaks ties with the given order", () => {
    const flat = rows.map((r) => ({ ...r, score: 0 }));
    expect(pairMetrics(flat, [0, 1, 2, 3]).apgr).toBeCloseTo(0.75, 10);
    expect(pairMetrics(flat, [3, 2, 1, 0]).apgr).toBeCloseTo(0.25, 10);
  });
});

describe("rank measures", () => {
  it("Spearman is 1 for a monotone relation and -1 for a reversed one, ties averaged", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 2, 2], [1, 2, 3, 4])).toBeCloseTo(0.894427, 5);
  });

  it("ROC-AUC is 1 for perfect separation, 0.5 for none, and counts ties half", () => {
    expect(rocAuc([3, 4], [1, 2])).toBe(1);
    expect(rocAuc([1, 2], [3, 4])).toBe(0);
    expect(rocAuc([1, 1], [1, 1])).toBe(0.5);
    expect(rocAuc([2, 1], [1, 0])).toBeCloseTo(0.875, 12);
  });
});

describe("AIQ (RouterBench)", () => {
  it("keeps only the non-decreasing upper hull", () => {
    const hull = upperHull([
      { cost: 0, quality: 0.5 },
      { cost: 1, quality: 0.55 }, // below the chord from (0, .5) to (2, .9): dropped
      { cost: 2, quality: 0.9 },
      { cost: 3, quality: 0.8 }, // costs more for less: dropped
    ]);
    expect(hull).toEqual([
      { cost: 0, quality: 0.5 },
      { cost: 2, quality: 0.9 },
    ]);
  });

  it("is the mean hull quality over the cost range", () => {
    const line = [
      { cost: 0, quality: 0 },
      { cost: 1, quality: 1 },
    ];
    expect(aiq(line, 0, 1)).toBeCloseTo(0.5, 6);
    expect(aiq([{ cost: 0, quality: 0.7 }], 0, 1)).toBeCloseTo(0.7, 6);
  });
});
