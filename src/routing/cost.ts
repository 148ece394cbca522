/**
 * What tokens cost, class by class: each class of the prompt (the uncached rest, cache
 * reads, 5-minute and 1-hour cache writes) and the output at its own price per million
 * tokens, at the `above` prices once the prompt passes their threshold. A price per
 * million tokens is micro-dollars per token, so every sum here is in micro-dollars.
 */
import { asksOneHourCache, type CanonicalRequest } from "../canonical/request.ts";

/** USD per million tokens of each usage class, as a registry entry names them: the five prices of one band. */
export type ClassPrices = {
  input_usd_per_mtok: number;
  output_usd_per_mtok: number;
  cache_read_usd_per_mtok: number;
  cache_write_usd_per_mtok: number;
  cache_write_1h_usd_per_mtok: number;
};

/**
 * A model's prices as this file reads them. Cache prices may be absent (an embedding
 * model, a bare price pair): each is then the input price, as a provider without a
 * cache discount bills it.
 */
export type PricedModel = Pick<ClassPrices, "input_usd_per_mtok" | "output_usd_per_mtok"> &
  Partial<Omit<ClassPrices, "input_usd_per_mtok" | "output_usd_per_mtok">> & {
    above?: (ClassPrices & { prompt_tokens: number }) | undefined;
  };

/** Token counts by class: the three cache classes are parts of `promptTokens` (as `Usage` in providers/usage.ts holds them). */
export type ClassTokens = {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens?: number | undefined;
  cacheWriteTokens?: number | undefined;
  cacheWrite1hTokens?: number | undefined;
};

/**
 * The band of prices a request of `promptTokens` pays: `above`'s for the whole request
 * once the prompt holds more than `above.prompt_tokens` (Gemini Pro, long-context Claude).
 */
export function pricesFor(model: PricedModel, promptTokens: number): ClassPrices {
  const band = model.above !== undefined && promptTokens > model.above.prompt_tokens ? model.above : model;
  const input = band.input_usd_per_mtok;
  return {
    input_usd_per_mtok: input,
    output_usd_per_mtok: band.output_usd_per_mtok,
    cache_read_usd_per_mtok: band.cache_read_usd_per_mtok ?? input,
    cache_write_usd_per_mtok: band.cache_write_usd_per_mtok ?? input,
    cache_write_1h_usd_per_mtok: band.cache_write_1h_usd_per_mtok ?? input,
  };
}

/** Micro-dollars, unrounded: each class at its price; the uncached rest is what the cache classes leave of the prompt. */
function exactMicros(model: PricedModel, tokens: ClassTokens): number {
  const prices = pricesFor(model, tokens.promptTokens);
  const read = tokens.cacheReadTokens ?? 0;
  const write = tokens.cacheWriteTokens ?? 0;
  const write1h = tokens.cacheWrite1hTokens ?? 0;
  const uncached = Math.max(0, tokens.promptTokens - read - write - write1h);
  return (
    uncached * prices.input_usd_per_mtok +
    read * prices.cache_read_usd_per_mtok +
    write * prices.cache_write_usd_per_mtok +
    write1h * prices.cache_write_1h_usd_per_mtok +
    tokens.completionTokens * prices.output_usd_per_mtok
  );
}

/**
 * Micro-dollars rounded up, once, to the next whole one: the unit every charge,
 * reservation and budget is counted in, so no answer is ever free by rounding. The sum
 * is rounded to a thousandth first, so float noise (15 × 0.15) never adds a micro-dollar.
 */
const wholeMicros = (micros: number): number => Math.ceil(Math.round(micros * 1_000) / 1_000);

/**
 * What these tokens cost at the model's prices, class by class, in whole micro-dollars.
 * @example usageMicros(sonnet, { promptTokens: 100_000, cacheReadTokens: 99_000, completionTokens: 500 }) // 3 × 1,000 + 0.3 × 99,000 + 15 × 500
 */
export function usageMicros(model: PricedModel, tokens: ClassTokens): number {
  return wholeMicros(exactMicros(model, tokens));
}

/** The same in US dollars, unrounded: estimates and comparisons, never a charge. */
export function usageUsd(model: PricedModel, tokens: ClassTokens): number {
  return exactMicros(model, tokens) / 1e6;
}

/** How long the request asks the provider to keep what it caches: "1h" when any breakpoint says so. */
export type CacheLifetime = "5m" | "1h";

/**
 * Whether the request asks for a 1-hour cache: a `cache_control` with `ttl: "1h"` on a
 * message, on any part of a message's content, or on a tool (or its function). Where a
 * surface keeps Anthropic's breakpoints, this is where the canonical request holds them.
 * @example cacheLifetimeOf({ messages: [{ role: "user", content: [{ type: "text", text: "…", cache_control: { type: "ephemeral", ttl: "1h" } }] }] }) // "1h"
 */
export function cacheLifetimeOf(request: Pick<CanonicalRequest, "messages" | "tools">): CacheLifetime {
  return asksOneHourCache(request) ? "1h" : "5m";
}

/**
 * The price per million of a prompt token at its dearest class: the input price or the
 * 5-minute write price, whichever is higher, or the 1-hour write price when the request
 * asks for an hour; a read is never dearer than any of them, but is counted in case a
 * catalog says otherwise. What a reservation prices the whole prompt at, so a budget
 * holds even when the whole prompt turns out to be a cache write.
 */
export function dearestPromptPrice(prices: ClassPrices, lifetime: CacheLifetime): number {
  const write1h = lifetime === "1h" ? prices.cache_write_1h_usd_per_mtok : 0;
  return Math.max(prices.input_usd_per_mtok, prices.cache_read_usd_per_mtok, prices.cache_write_usd_per_mtok, write1h);
}

/**
 * What a budget reserves for `promptTokens` of prompt and `outputTokens` of output:
 * the prompt at its dearest class, in the band the prompt falls in, rounded up once.
 * No charge of these tokens, in whatever classes they are reported, can exceed it.
 */
export function reserveMicros(model: PricedModel, promptTokens: number, outputTokens: number, lifetime: CacheLifetime): number {
  const prices = pricesFor(model, promptTokens);
  return wholeMicros(promptTokens * dearestPromptPrice(prices, lifetime) + outputTokens * prices.output_usd_per_mtok);
}
