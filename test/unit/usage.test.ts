/** Reading a provider's usage report into its classes, each bounded by the whole it is part of. */
import { describe, expect, it } from "vitest";
import { readUsage } from "../../src/providers/usage.ts";

describe("readUsage: OpenAI chat", () => {
  it("keeps cache reads inside prompt_tokens, and reasoning inside completion_tokens", () => {
    const usage = readUsage({
      prompt_tokens: 10_000,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 9_000, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 120 },
    });
    expect(usage).toEqual({ promptTokens: 10_000, completionTokens: 300, cacheReadTokens: 9_000, reasoningTokens: 120 });
  });

  it("reads OpenRouter's cache writes and DeepSeek's cache hits", () => {
    expect(readUsage({ prompt_tokens: 5_000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 4_900 } })).toEqual({
      promptTokens: 5_000,
      completionTokens: 10,
      cacheWriteTokens: 4_900,
      writesUnsplit: true,
    });
    expect(readUsage({ prompt_tokens: 2_000, completion_tokens: 5, prompt_cache_hit_tokens: 1_536, prompt_cache_miss_tokens: 464 })).toEqual({
      promptTokens: 2_000,
      completionTokens: 5,
      cacheReadTokens: 1_536,
    });
  });

  it("cannot read more from the cache than was sent, nor write more than was left", () => {
    const usage = readUsage({ prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 150, cache_write_tokens: 30 } });
    expect(usage).toMatchObject({ promptTokens: 100, cacheReadTokens: 100 });
    expect(usage?.cacheWriteTokens).toBeUndefined();
    expect(usage?.adjusted).toEqual([
      "usage.prompt_tokens_details.cached_tokens 150 is more than the 100 tokens it is part of: clamped",
      "usage.prompt_tokens_details.cache_write_tokens 30 is more than the 0 tokens it is part of: clamped",
    ]);
  });

  it("clamps a class that is not a count", () => {
    const usage = readUsage({ prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: -5 } });
    expect(usage?.cacheReadTokens).toBeUndefined();
    expect(usage?.adjusted).toEqual(["usage.prompt_tokens_details.cached_tokens -5 is negative: counted as 0"]);
  });
});
