import { describe, expect, it } from "vitest";
import { agreement, type RatedRequest, targetOf, tierShift } from "../../scripts/train/from-audit.ts";
import { vectorize } from "../../scripts/train/logistic.ts";
import { DEFAULT_MODEL, decodeModel } from "../../src/routing/model.ts";
import { scoreOfVector } from "../../src/routing/score.ts";
import { selectTier } from "../../src/routing/tier.ts";

const THRESHOLDS: [number, number, number, number] = [0.2, 0.4, 0.6, 0.8];
const vectorOf = (prompt: string): number[] => Array.from(vectorize(prompt));
const rated = (prompt: string, wanted: RatedRequest["wanted"]): RatedRequest => {
  const features = vectorOf(prompt);
  const score = scoreOfVector(features);
  return { features, score, tier: selectTier(score, THRESHOLDS), wanted };
};

describe("learning from ratings (train:router --from-audit)", () => {
  it("asks for a score past the edge of the tier that answered, or the same score for a good answer", () => {
    const request = { features: [], score: 0.5, tier: 3, wanted: "stronger" as const };
    expect(targetOf(request, THRESHOLDS)).toBeCloseTo(0.65);
    expect(targetOf({ ...request, wanted: "cheaper" }, THRESHOLDS)).toBeCloseTo(0.35);
    expect(targetOf({ ...request, wanted: "same" }, THRESHOLDS)).toBe(0.5);
  });

  it("counts a held-out rating as met only when the model routes it the way it asked", () => {
    const requests = [rated("hi there", "stronger"), rated("Prove that sqrt(2) is irrational.", "same")];
    expect(agreement(DEFAULT_MODEL, THRESHOLDS, requests)).toBe(0.5);
    const higher = decodeModel({ bias: 10, features: {}, provenance: "everything to the top" });
    expect(agreement(higher, THRESHOLDS, [requests[0]!])).toBe(1);
  });

  it("measures how far a new model moves the traffic no one rated", () => {
    const traffic = ["hi", "thanks!", "What is the capital of France?", "Design a distributed database with consensus, sharding and failover."].map(vectorOf);
    expect(tierShift(traffic, DEFAULT_MODEL, DEFAULT_MODEL, THRESHOLDS)).toEqual({ moved: 0, movedFar: 0 });
    const top = decodeModel({ bias: 10, features: {}, provenance: "everything to tier 5" });
    const far = traffic.filter((v) => selectTier(scoreOfVector(v), THRESHOLDS) <= 3).length / traffic.length;
    expect(far).toBeGreaterThan(0);
    expect(tierShift(traffic, DEFAULT_MODEL, top, THRESHOLDS)).toEqual({
      moved: traffic.filter((v) => selectTier(scoreOfVector(v), THRESHOLDS) < 5).length / traffic.length,
      movedFar: far,
    });
    expect(tierShift([], DEFAULT_MODEL, top, THRESHOLDS)).toEqual({ moved: 0, movedFar: 0 });
  });
});
