import { describe, expect, it } from "vitest";
import { train, vectorize } from "../../scripts/train/logistic.ts";
import type { ChatRequest } from "../../src/openai/chat-request.ts";
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
      scoreComplexity({ model: "auto", messages: [{ role: "user", content: text }] } as ChatRequest, decodeModel(model)).score;
    expect(score("Prove that there are infinitely many primes.")).toBeGreaterThan(score("hello!") + 0.3);
  });

  it("leaves a feature the data never shows at its hand-set prior", () => {
    const model = train(set, "synthetic");
    const tools = FEATURES.find((f) => f.name === "tools")!;
    expect(model.features.tools).toBe(tools.prior);
  });
});
