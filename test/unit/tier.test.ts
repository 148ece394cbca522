import { describe, expect, it } from "vitest";
import { parseThresholds } from "../../src/config/policy.ts";
import { selectTier } from "../../src/routing/tier.ts";

describe("selectTier", () => {
  const cuts = parseThresholds("0.2,0.4,0.6,0.8");

  it("maps each band to its tier, a cut belonging to the band above", () => {
    expect([0, 0.19, 0.2, 0.39, 0.4, 0.6, 0.79, 0.8, 1].map((s) => selectTier(s, cuts))).toEqual([1, 1, 2, 2, 3, 4, 4, 5, 5]);
  });

  it("refuses thresholds that are not four increasing numbers in (0, 1)", () => {
    for (const bad of ["0.2,0.4,0.6", "0.4,0.2,0.6,0.8", "0,0.4,0.6,0.8", "0.2,0.4,0.6,1", "a,b,c,d", "0.2,0.2,0.6,0.8"]) {
      expect(() => parseThresholds(bad), bad).toThrow();
    }
  });
});
