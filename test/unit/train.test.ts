import { describe, expect, it } from "vitest";
import { TRAINING, train, vectorize } from "../../scripts/train/logistic.ts";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { FEATURES } from "../../src/routing/features.ts";
import { decodeModel } from "../../src/routing/model.ts";
import { scoreComplexity } from "../../src/routing/score.ts";

/** Synthetic prompts: proofs need the strong model, greetings do not. */
const prompts = [
  ...Array.from({ length: 40 }, (_, i) => ({
    prompt: `Prove that the sum of the first ${i + 2} odd numbers is a square, rigorously.`,
    target: 1,
    file: "hard",
  })),
  ...Array.from({ length: 40 }, (_, i) => ({ prompt: i % 2 ? "hello there!" : `thanks, bye ${i}`, target: 0, file: "easy" })),
];
const set = { vectors: prompts.map((p) => vectorize(p.prompt)), targets: prompts.map((p) => p.target), files: prompts.map((p) => p.file) };

describe("train (npm run train:router)", () => {
  it("is deterministic: the same data and seed give the same model", () => {
    expect(train(set, "a")).toEqual(train(set, "a"));
  });

  it("learns the direction in the data and keeps every weight to its sign", () => {
    const model = train(set, "synthetic");
    for (const feature of FEATURES) expect(model.features[feature.name]! * feature.sign).toBeGreaterThanOrEqual(0);
    const score = (text: string): number =>
      scoreComplexity({ model: "auto", messages: [{ role: "user", content: text }] } as CanonicalRequest, decodeModel(model)).score;
    expect(score("Prove that there are infinitely many primes.")).toBeGreaterThan(score("hello!") + 0.3);
  });

  it("leaves a feature the data never shows at its hand-set prior", () => {
    const model = train(set, "synthetic");
    const tools = FEATURES.find((f) => f.name === "tools")!;
    expect(model.features.tools).toBe(tools.prior);
  });
});

describe("train: a question shape's own weights", () => {
  // Multiple-choice questions are hard when long; plain ones are not.
  const filler = (n: number) => " and then some more words".repeat(n);
  const shaped = Array.from({ length: 60 }, (_, i) => {
    const long = i % 2 === 0;
    const mc = i % 4 < 2;
    const text = mc ? `Which one${long ? filler(30) : ""}?\nA. this\nB. that` : `Which one${long ? filler(30) : ""}, this or that`;
    return { prompt: text, target: mc && long ? 1 : 0, file: mc ? "mc" : "plain" };
  });
  const data = { vectors: shaped.map((p) => vectorize(p.prompt)), targets: shaped.map((p) => p.target), files: shaped.map((p) => p.file) };

  it("learns where a shape differs from the rest, each of its weights on its feature's side of zero", () => {
    const model = decodeModel(train(data, "shapes"));
    const length = FEATURES.findIndex((f) => f.name === "length");
    expect(model.shapeWeights[2]![length]).toBeGreaterThan(model.featureWeights[length]! + 0.5);
    for (const weights of model.shapeWeights) for (const [k, f] of FEATURES.entries()) expect(weights[k]! * f.sign).toBeGreaterThanOrEqual(0);
  });

  it("starts from a model's shape weights when told to", () => {
    const first = decodeModel(train(data, "shapes"));
    const again = decodeModel(train(data, "again", { ...TRAINING, epochs: 0, start: first }));
    expect(first.shapeWeights[2]).not.toEqual(first.featureWeights);
    for (const [s, weights] of again.shapeWeights.entries()) for (const [k, w] of weights.entries()) expect(w).toBeCloseTo(first.shapeWeights[s]![k]!, 4);
  });
});
