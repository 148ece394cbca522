/** The pure parts of embeddings: inputs and their token estimate, the base64 form of vectors, batches, and the adapter's reading of an answer. */
import { describe, expect, it } from "vitest";
import { base64Dimensions, base64ToVector, inputsOf, inputTokens, vectorToBase64 } from "../../src/canonical/embeddings.ts";
import { batchesOf } from "../../src/engine/embeddings.ts";
import { openAiCompatible } from "../../src/providers/openai-compatible/index.ts";

describe("inputs", () => {
  it("lists every shape of input in order", () => {
    expect(inputsOf({ model: "auto", input: "one" })).toEqual(["one"]);
    expect(inputsOf({ model: "auto", input: ["one", "two"] })).toEqual(["one", "two"]);
    expect(inputsOf({ model: "auto", input: [1, 2, 3] })).toEqual([[1, 2, 3]]);
    expect(inputsOf({ model: "auto", input: [[1], [2, 3]] })).toEqual([[1], [2, 3]]);
  });

  it("counts a token array exactly and estimates a text, a character past ASCII as a token", () => {
    expect(inputTokens([5, 6, 7])).toBe(3);
    expect(inputTokens("abcdefgh")).toBe(2);
    expect(inputTokens("abcdefghi")).toBe(3);
    expect(inputTokens("日本語")).toBe(3);
  });
});

describe("vectors in base64", () => {
  it("encodes float32 little-endian, as OpenAI does, and decodes back", () => {
    const vector = [0.5, -0.25, 1, 0];
    const base64 = vectorToBase64(vector);
    expect(Buffer.from(base64, "base64")).toEqual(Buffer.from(new Float32Array(vector).buffer));
    expect(base64ToVector(base64)).toEqual(vector);
    expect(base64Dimensions(base64)).toBe(4);
    expect(base64Dimensions(vectorToBase64(new Array(1536).fill(0.1)))).toBe(1536);
    expect(base64Dimensions(vectorToBase64([1, 2, 3]))).toBe(3);
  });

  it("keeps a value past float32's precision as the float32 nearest it", () => {
    const [value] = base64ToVector(vectorToBase64([0.1]))!;
    expect(value).toBe(Math.fround(0.1));
  });

  it("refuses what is not whole float32 values", () => {
    expect(base64ToVector("AAA=")).toBeUndefined();
    expect(base64ToVector("not base64!")).toBeUndefined();
  });
});

describe("batches", () => {
  it("splits by count and by tokens, in order, an input over the token limit alone", () => {
    expect(batchesOf([1, 1, 1, 1, 1], { max_batch_inputs: 2, max_batch_tokens: 100 })).toEqual([[0, 1], [2, 3], [4]]);
    expect(batchesOf([40, 40, 40, 10], { max_batch_inputs: 10, max_batch_tokens: 90 })).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(batchesOf([10, 500, 10], { max_batch_inputs: 10, max_batch_tokens: 100 })).toEqual([[0], [1], [2]]);
    expect(batchesOf([3], { max_batch_inputs: 1, max_batch_tokens: 1 })).toEqual([[0]]);
  });
});

describe("the OpenAI-compatible adapter's embeddings", () => {
  it("asks for base64, and sends dimensions and user only when given", () => {
    const provider = { id: "p", api: "openai-compatible" as const, baseUrl: "http://p/v1/", apiKey: "k", configureWith: "P", configured: true };
    const call = openAiCompatible.embeddingsRequest(provider, { upstreamModel: "m", inputs: ["a"], dimensions: undefined, user: undefined });
    expect(call.url).toBe("http://p/v1/embeddings");
    expect(call.headers.authorization).toBe("Bearer k");
    expect(JSON.parse(call.body)).toEqual({ model: "m", input: ["a"], encoding_format: "base64" });
    const shorter = openAiCompatible.embeddingsRequest(provider, { upstreamModel: "m", inputs: [[1]], dimensions: 8, user: "u" });
    expect(JSON.parse(shorter.body)).toMatchObject({ dimensions: 8, user: "u", input: [[1]] });
  });

  it("reads floats or base64, put in order by index, with usage and no note for a missing completion count", () => {
    const b = vectorToBase64([1, 2]);
    const text = JSON.stringify({
      data: [
        { index: 1, embedding: [3, 4] },
        { index: 0, embedding: b },
      ],
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    expect(openAiCompatible.readEmbeddings(text, 2)).toEqual({ vectors: [b, vectorToBase64([3, 4])], usage: { promptTokens: 7, completionTokens: 0 } });
  });

  it("is no answer with the wrong count, a repeated index, a vector that is not one, or an error", () => {
    const one = (embedding: unknown, index = 0) => ({ index, embedding });
    expect(openAiCompatible.readEmbeddings(JSON.stringify({ data: [one([1])] }), 2)).toEqual({ failure: "wrong_count" });
    expect(openAiCompatible.readEmbeddings(JSON.stringify({ data: [one([1]), one([2])] }), 2)).toEqual({ failure: "wrong_count" });
    expect(openAiCompatible.readEmbeddings(JSON.stringify({ data: [one(["x"])] }), 1)).toEqual({ failure: "wrong_count" });
    expect(openAiCompatible.readEmbeddings(JSON.stringify({ error: { message: "no" } }), 1)).toEqual({ failure: "error" });
    expect(openAiCompatible.readEmbeddings("{", 1)).toEqual({ failure: "not_json" });
  });
});
