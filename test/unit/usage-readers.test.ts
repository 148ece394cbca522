/**
 * Each wire format's usage read by its own rule into the same classes, checked against
 * the examples of each provider's documentation and against the extractors of the price
 * catalog (@pydantic/genai-prices), an independent reading of the same formats.
 */
import { extractUsage, findProvider } from "@pydantic/genai-prices";
import { describe, expect, it } from "vitest";
import { readAnthropicStreamUsage, readAnthropicUsage } from "../../src/providers/usage/anthropic.ts";
import { readGeminiUsage } from "../../src/providers/usage/gemini.ts";
import { readResponsesUsage } from "../../src/providers/usage/responses.ts";
import type { Usage } from "../../src/providers/usage.ts";

/** The catalog's reading of a provider's answer: input is the whole prompt, output the whole completion. */
function catalogReads(providerId: string, answer: Record<string, unknown>, flavor: string): Record<string, number | undefined> {
  return extractUsage(findProvider({ providerId })!, answer, flavor).usage;
}

/** What the catalog's reading and ours must share. */
function agree(usage: Usage | undefined, catalog: Record<string, number | undefined>): void {
  expect(usage?.promptTokens).toBe(catalog.input_tokens);
  expect(usage?.completionTokens).toBe(catalog.output_tokens);
  expect(usage?.cacheReadTokens ?? 0).toBe(catalog.cache_read_tokens ?? 0);
  expect((usage?.cacheWriteTokens ?? 0) + (usage?.cacheWrite1hTokens ?? 0)).toBe(catalog.cache_write_tokens ?? 0);
  expect(usage?.reasoningTokens ?? 0).toBe(catalog.output_reasoning_tokens ?? 0);
}

describe("readResponsesUsage: OpenAI Responses", () => {
  it("keeps cached tokens inside input_tokens and reasoning inside output_tokens", () => {
    const reported = {
      input_tokens: 12_000,
      output_tokens: 900,
      input_tokens_details: { cached_tokens: 11_264 },
      output_tokens_details: { reasoning_tokens: 640 },
    };
    const usage = readResponsesUsage(reported);
    expect(usage).toEqual({ promptTokens: 12_000, completionTokens: 900, cacheReadTokens: 11_264, reasoningTokens: 640 });
    agree(usage, catalogReads("openai", { model: "gpt-5", usage: reported }, "responses"));
  });

  it("bounds the classes by their whole, and answers undefined for no usage", () => {
    const usage = readResponsesUsage({
      input_tokens: 100,
      output_tokens: 10,
      input_tokens_details: { cached_tokens: 400 },
      output_tokens_details: { reasoning_tokens: 11 },
    });
    expect(usage).toMatchObject({ promptTokens: 100, cacheReadTokens: 100, completionTokens: 10, reasoningTokens: 10 });
    expect(usage?.adjusted).toEqual([
      "usage.input_tokens_details.cached_tokens 400 is more than the 100 tokens it is part of: clamped",
      "usage.output_tokens_details.reasoning_tokens 11 is more than the 10 tokens it is part of: clamped",
    ]);
    expect(readResponsesUsage({ total_tokens: 3 })).toBeUndefined();
    expect(readResponsesUsage(null)).toBeUndefined();
  });
});

describe("readAnthropicUsage: Anthropic Messages", () => {
  it("adds cache reads and writes to input_tokens, which excludes them", () => {
    const reported = { input_tokens: 50, cache_read_input_tokens: 100_000, cache_creation_input_tokens: 2_000, output_tokens: 300 };
    const usage = readAnthropicUsage(reported);
    expect(usage).toEqual({ promptTokens: 102_050, completionTokens: 300, cacheReadTokens: 100_000, cacheWriteTokens: 2_000 });
    agree(usage, catalogReads("anthropic", { model: "claude-sonnet-4-5", usage: reported }, "default"));
  });

  it("splits writes into 5-minute and 1-hour ones by cache_creation", () => {
    const reported = {
      input_tokens: 10,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 1,
    };
    const usage = readAnthropicUsage(reported);
    expect(usage).toEqual({ promptTokens: 3_010, completionTokens: 1, cacheWriteTokens: 1_000, cacheWrite1hTokens: 2_000 });
    agree(usage, catalogReads("anthropic", { model: "claude-sonnet-4-5", usage: reported }, "default"));
  });

  it("counts the larger of a total and a split that disagree, the excess as 5-minute writes", () => {
    const usage = readAnthropicUsage({
      input_tokens: 0,
      cache_creation_input_tokens: 5_000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 1_000 },
      output_tokens: 1,
    });
    expect(usage).toMatchObject({ promptTokens: 5_000, cacheWriteTokens: 4_000, cacheWrite1hTokens: 1_000 });
    expect(usage?.adjusted).toEqual(["usage.cache_creation_input_tokens 5000 is not cache_creation's 0 + 1000: the larger counted"]);
    const short = readAnthropicUsage({
      input_tokens: 0,
      cache_creation_input_tokens: 10,
      cache_creation: { ephemeral_1h_input_tokens: 600 },
      output_tokens: 1,
    });
    expect(short).toMatchObject({ promptTokens: 600, cacheWrite1hTokens: 600 });
    expect(short?.cacheWriteTokens).toBeUndefined();
  });

  it("clamps a class that is not a count, and the whole at the most a report may hold", () => {
    const usage = readAnthropicUsage({ input_tokens: 5, cache_read_input_tokens: -40, output_tokens: 2 });
    expect(usage).toEqual({ promptTokens: 5, completionTokens: 2, adjusted: ["usage.cache_read_input_tokens -40 is negative: counted as 0"] });
    const huge = readAnthropicUsage({ input_tokens: 900_000_000, cache_read_input_tokens: 900_000_000, output_tokens: 1 });
    expect(huge).toMatchObject({ promptTokens: 1_000_000_000, cacheReadTokens: 900_000_000 });
    expect(huge?.adjusted?.[0]).toMatch(/exceeds 1000000000: clamped/);
  });

  it("combines a stream's message_start (the prompt's classes) with its message_delta (the output)", () => {
    const start = {
      input_tokens: 4,
      cache_read_input_tokens: 48_000,
      cache_creation_input_tokens: 1_200,
      cache_creation: { ephemeral_5m_input_tokens: 1_200, ephemeral_1h_input_tokens: 0 },
      output_tokens: 1,
    };
    expect(readAnthropicStreamUsage(start, { output_tokens: 512 })).toEqual({
      promptTokens: 49_204,
      completionTokens: 512,
      cacheReadTokens: 48_000,
      cacheWriteTokens: 1_200,
    });
    // A delta that repeats the prompt's counts (they are cumulative) replaces them; a null one does not.
    expect(
      readAnthropicStreamUsage(start, { input_tokens: 4, cache_read_input_tokens: null, cache_creation_input_tokens: 1_300, output_tokens: 9 }),
    ).toMatchObject({
      promptTokens: 49_304,
      completionTokens: 9,
      cacheReadTokens: 48_000,
      cacheWriteTokens: 1_300,
    });
    expect(readAnthropicStreamUsage(undefined, undefined)).toBeUndefined();
  });
});

describe("readGeminiUsage: Gemini usageMetadata", () => {
  it("keeps cachedContentTokenCount inside promptTokenCount, and bills thoughts as output", () => {
    const metadata = {
      promptTokenCount: 40_000,
      cachedContentTokenCount: 32_768,
      candidatesTokenCount: 300,
      thoughtsTokenCount: 1_200,
      totalTokenCount: 41_500,
    };
    const usage = readGeminiUsage(metadata);
    expect(usage).toEqual({ promptTokens: 40_000, completionTokens: 1_500, cacheReadTokens: 32_768, reasoningTokens: 1_200 });
    agree(usage, catalogReads("google", { modelVersion: "gemini-2.5-pro", usageMetadata: metadata }, "default"));
  });

  it("bills a built-in tool's prompt as input beside the prompt", () => {
    const metadata = { promptTokenCount: 100, toolUsePromptTokenCount: 20, candidatesTokenCount: 5 };
    const usage = readGeminiUsage(metadata);
    expect(usage).toEqual({ promptTokens: 120, completionTokens: 5 });
    agree(usage, catalogReads("google", { modelVersion: "gemini-2.5-flash", usageMetadata: metadata }, "default"));
  });

  it("cannot read more from the cache than the prompt held", () => {
    const usage = readGeminiUsage({ promptTokenCount: 100, toolUsePromptTokenCount: 50, cachedContentTokenCount: 130, candidatesTokenCount: 1 });
    expect(usage).toMatchObject({ promptTokens: 150, cacheReadTokens: 100 });
    expect(usage?.adjusted).toEqual(["usage.cachedContentTokenCount 130 is more than the 100 tokens it is part of: clamped"]);
    expect(readGeminiUsage({ totalTokenCount: 7 })).toBeUndefined();
  });
});
