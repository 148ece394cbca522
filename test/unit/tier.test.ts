import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import { biasThresholds, parseThresholds } from "../../src/routing/thresholds.ts";
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

describe("ROUTER_QUALITY_BIAS", () => {
  const cuts = parseThresholds("0.2,0.4,0.6,0.8");

  it("moves every cut point: positive sends a score to a higher tier, negative to a lower one", () => {
    expect(biasThresholds(cuts, 0.1).map((c) => Number(c.toFixed(6)))).toEqual([0.1, 0.3, 0.5, 0.7]);
    expect(selectTier(0.35, cuts)).toBe(2);
    expect(selectTier(0.35, biasThresholds(cuts, 0.1))).toBe(3);
    expect(selectTier(0.35, biasThresholds(cuts, -0.1))).toBe(2);
    expect(selectTier(0.25, biasThresholds(cuts, -0.1))).toBe(1);
  });

  it("keeps the cuts increasing and inside (0, 1) at the extremes", () => {
    for (const bias of [-1, 1]) {
      const shifted = biasThresholds(cuts, bias);
      for (let i = 0; i < 4; i++) {
        expect(shifted[i]).toBeGreaterThan(0);
        expect(shifted[i]).toBeLessThan(1);
        if (i > 0) expect(shifted[i]).toBeGreaterThan(shifted[i - 1]!);
      }
    }
    expect(selectTier(0.99, biasThresholds(cuts, -1))).toBe(1);
    expect(selectTier(0.01, biasThresholds(cuts, 1))).toBe(5);
  });

  it("is read from the environment", () => {
    expect(parseConfig({ TIER_THRESHOLDS: "0.2,0.4,0.6,0.8", ROUTER_QUALITY_BIAS: "0.1" }).thresholds[0]).toBeCloseTo(0.1, 6);
    // Out of range: ignored for its default and reported, not fatal to the whole router.
    const bad = parseConfig({ ROUTER_QUALITY_BIAS: "2" });
    expect(bad.thresholds).toEqual(parseConfig({}).thresholds);
    expect(bad.problems).toEqual([expect.stringMatching(/^ROUTER_QUALITY_BIAS: .*ignored$/)]);
  });
});

describe("MODEL_JSON", () => {
  const model = { bias: -1, features: { length: 2, code: 3 }, thresholds: [0.2, 0.4, 0.6, 0.8], provenance: "test" };

  it("routes by the given model and takes its thresholds, unless TIER_THRESHOLDS says otherwise", () => {
    const config = parseConfig({ MODEL_JSON: JSON.stringify(model) });
    expect(config.routerModel.version).toMatch(/^custom:[0-9a-f]{8}$/);
    expect(config.routerModel.bias).toBe(-1);
    expect(config.thresholds).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(parseConfig({ MODEL_JSON: JSON.stringify(model), TIER_THRESHOLDS: "0.1,0.3,0.5,0.7" }).thresholds).toEqual([0.1, 0.3, 0.5, 0.7]);
    expect(parseConfig({}).routerModel.version).toMatch(/^builtin:[0-9a-f]{8}$/);
  });

  it("takes each question shape's weights, and they change the version", () => {
    const shaped = parseConfig({ MODEL_JSON: JSON.stringify({ ...model, shapes: { multiple_choice: { length: 1 } } }) });
    expect(shaped.problems).toEqual([]);
    expect(shaped.routerModel.shapeWeights[2]![0]).toBe(3);
    expect(shaped.routerModel.version).not.toBe(parseConfig({ MODEL_JSON: JSON.stringify(model) }).routerModel.version);
  });

  it("keeps the shipped model, and says why, for bad JSON, an unknown feature or thresholds out of order", () => {
    const shipped = parseConfig({}).routerModel.version;
    for (const text of [
      "{bad",
      JSON.stringify({ ...model, features: { telepathy: 1 } }),
      JSON.stringify({ ...model, shapes: { riddle: { length: 1 } } }),
      JSON.stringify({ ...model, shapes: { few_shot: { telepathy: 1 } } }),
      JSON.stringify({ ...model, thresholds: [0.5, 0.4, 0.6, 0.8] }),
    ]) {
      const config = parseConfig({ MODEL_JSON: text });
      expect(config.routerModel.version).toBe(shipped);
      expect(config.problems).toEqual([expect.stringMatching(/^MODEL_JSON: .*ignored$/)]);
    }
  });
});
