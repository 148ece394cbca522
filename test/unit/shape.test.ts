import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { FEATURES } from "../../src/routing/features.ts";
import { DEFAULT_MODEL, decodeModel } from "../../src/routing/model.ts";
import { featureVector, scoreComplexity, scoreOfVector } from "../../src/routing/score.ts";
import { questionShape } from "../../src/routing/shape.ts";

const example = (question: string, answer: string) => `${question}\nA) yes\nB) no\nAnswer:\n${answer}`;
const QUESTION = "Is the Sun a star?\nA) yes\nB) no\nAnswer:";
const FEW_SHOT = [example("Is ice cold?", "A"), example("Is fire cold?", "B"), QUESTION].join("\n\n");

const ask = (content: string): CanonicalRequest => ({ model: "auto", messages: [{ role: "user", content }] }) as CanonicalRequest;
const value = (values: Float64Array, name: string): number => values[FEATURES.findIndex((f) => f.name === name)]!;

describe("questionShape", () => {
  it("finds the question after worked examples, and counts them", () => {
    const shape = questionShape(FEW_SHOT);
    expect(shape).toEqual({ shape: "few_shot", questionStart: FEW_SHOT.indexOf(QUESTION), examples: 2 });
    expect(questionShape(`${FEW_SHOT}\n\n  \n`).questionStart).toBe(FEW_SHOT.indexOf(QUESTION)); // trailing blank lines
  });

  it("is not few-shot when the last answer is given, or nothing before it is answered", () => {
    expect(questionShape(`${FEW_SHOT}\nA`).shape).toBe("multiple_choice");
    expect(questionShape(`Some context.\n\n${QUESTION}`).shape).toBe("multiple_choice");
  });

  it("tells multiple-choice questions, word problems and plain prompts apart", () => {
    expect(questionShape("Which is a prime?\n(A) 4\n(B) 7").shape).toBe("multiple_choice");
    expect(questionShape("Which is a prime?\nA. 4\nB. 7\nAnswer:").shape).toBe("multiple_choice");
    expect(questionShape("Tom has 3 apples and buys 5 more. How many does he have?").shape).toBe("word_problem");
    expect(questionShape("Solve $x^2 = 4$ for x, with 2 roots?").shape).toBe("plain"); // notation: not a word problem
    expect(questionShape("How are you today?").shape).toBe("plain");
    expect(questionShape("A. Smith wrote to B. Jones.").shape).toBe("plain"); // initials, not options on their own lines
    expect(questionShape("").shape).toBe("plain");
  });
});

describe("scoring by shape", () => {
  it("scores a few-shot prompt's question on its own, its examples by their number and length", () => {
    const alone = featureVector(ask(QUESTION));
    const shot = featureVector(ask(FEW_SHOT));
    const longer = featureVector(ask([example(`Is ice cold? ${"Think about it. ".repeat(40)}`, "A"), example("Is fire cold?", "B"), QUESTION].join("\n\n")));
    expect(value(shot.values, "length")).toBe(value(alone.values, "length"));
    expect(value(shot.values, "examples")).toBeGreaterThan(0);
    expect(value(longer.values, "examples_length")).toBeGreaterThan(value(shot.values, "examples_length"));
    expect(value(longer.values, "sentences")).toBe(value(shot.values, "sentences")); // the examples' sentences are not scanned
    expect(shot.promptTokens).toBeGreaterThan(alone.promptTokens + 10); // but they are counted for the context window and cost
    expect(value(shot.values, "few_shot")).toBe(1);
    // The explanation says what was measured.
    expect(scoreComplexity(ask(FEW_SHOT)).features.find((f) => f.name === "length")!.label).toBe(`question length (${shot.scannedTokens} tokens)`);
    expect(scoreComplexity(ask(QUESTION)).features.find((f) => f.name === "length")!.label).toBe(`prompt length (${alone.promptTokens} tokens)`);
  });

  it("weighs each shape with its own weights, and an audit vector scores as the request did", () => {
    const model = decodeModel({ bias: 0, features: { length: 1 }, shapes: { multiple_choice: { length: 2 } }, provenance: "test" });
    const mc = "Which is a prime?\nA. 4\nB. 7";
    const plain = "Which is a prime, 4 or 7";
    const lengthOf = (text: string) => scoreComplexity(ask(text), model).features.find((f) => f.name === "length")!;
    expect(lengthOf(mc).contribution).toBeCloseTo(3 * lengthOf(mc).value, 3);
    expect(lengthOf(plain).contribution).toBeCloseTo(lengthOf(plain).value, 3);
    for (const text of [mc, plain, FEW_SHOT, "Tom has 3 apples and buys 5 more. How many?"]) {
      for (const m of [model, DEFAULT_MODEL]) expect(scoreOfVector(featureVector(ask(text)).values, m)).toBe(scoreComplexity(ask(text), m).score);
    }
  });

  it("keeps a shape's weights on their feature's side of zero", () => {
    const model = decodeModel({ bias: 0, features: { length: 1, smalltalk: -1 }, shapes: { word_problem: { length: -5, smalltalk: 3 } }, provenance: "test" });
    const wordProblem = model.shapeWeights[3]!;
    expect(wordProblem[FEATURES.findIndex((f) => f.name === "length")]).toBe(0);
    expect(wordProblem[FEATURES.findIndex((f) => f.name === "smalltalk")]).toBe(0);
  });
});
