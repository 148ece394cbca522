/**
 * What a served answer is charged: the provider's usage, never trusted blindly. A
 * report is bounded by what was sent and what the answer was allowed to write, and its
 * cache classes by the prompt they are part of; a missing one (a stream cut before its
 * last chunk, a provider that never says) is made from the prompt as sent and the answer
 * as relayed. Each class is charged at its own price (routing/cost.ts), rounded up once
 * for the whole answer; under a budget, nothing is charged past what was reserved. Every
 * change is noted in the usage, for the audit.
 */
import { part, type Usage } from "../providers/usage.ts";
import { type CacheLifetime, type PricedModel, usageMicros } from "../routing/cost.ts";

export type ChargeInput = {
  /** The prices of each class, and the most prompt tokens the request could hold. */
  model: PricedModel & { context_window: number };
  /** The provider's usage, as read (already clamped into range by providers/usage.ts). */
  reported: Usage | undefined;
  /** The prompt as sent, estimated (routing/estimate.ts). */
  promptEstimate: number;
  /** The part of the estimate that is not images (which providers bill from 258 to 25,000 tokens): what a report below a quarter of is not believed. */
  promptFloor: number;
  /** Characters of the body sent and images in it: a provider cannot honestly count more prompt than that. */
  sent: { chars: number; images: number };
  /** Characters the answer wrote that reached the client (or, for JSON, that the answer holds). */
  writtenChars: number;
  /** The most completion tokens the answer was allowed: its `max_tokens` times `n`, or the context window. */
  completionLimit: number;
  /** Under a budget: the micro-dollars reserved, the most it may be charged. */
  reservedMicros: number | undefined;
  /** How long the request asked the provider to cache what it writes: the lifetime of writes a report does not split (5 minutes unless told). */
  cacheLifetime?: CacheLifetime;
};

export type Charge = { usage: Usage; costMicros: number };

/** A token is at least one byte, a UTF-16 unit at most three: three tokens a character is more than any prompt costs. */
const TOKENS_PER_SENT_CHAR = 3;
/** The most an image is billed at any provider here (gpt-4o-mini bills an image at about 33× gpt-4o's count). */
const IMAGE_TOKENS_MAX = 60_000;
/** A report below this share of the router's own count is not believed. */
const BELIEVED_SHARE = 0.25;
/** Four characters a token, as the prompt estimate counts them. */
const CHARS_PER_TOKEN = 4;

export function chargeFor(input: ChargeInput): Charge {
  const { model, reported } = input;
  const notes = [...(reported?.adjusted ?? [])];
  const counted = Math.ceil(input.writtenChars / CHARS_PER_TOKEN);
  const promptLimit = Math.min(
    model.context_window,
    Math.max(input.promptEstimate, TOKENS_PER_SENT_CHAR * input.sent.chars + IMAGE_TOKENS_MAX * input.sent.images),
  );
  let prompt: number;
  let completion: number;
  if (reported === undefined) {
    prompt = input.promptEstimate;
    completion = Math.min(counted, input.completionLimit);
    notes.push(
      `no usage reported: the prompt as estimated (${prompt}), the completion counted from the ${input.writtenChars} characters written (${completion})`,
    );
  } else {
    prompt = bounded("prompt_tokens", reported.promptTokens, { floor: input.promptFloor, limit: promptLimit }, notes);
    completion = bounded("completion_tokens", reported.completionTokens, { floor: input.writtenChars > 0 ? counted : 0, limit: input.completionLimit }, notes);
  }
  const usage: Usage = { promptTokens: prompt, completionTokens: completion };
  if (reported !== undefined) classesWithin(usage, withLifetime(reported, input.cacheLifetime ?? "5m", notes), notes);
  let micros = usageMicros(model, usage);
  if (input.reservedMicros !== undefined && micros > input.reservedMicros) {
    notes.push(`charged the ${input.reservedMicros} µ$ reserved: the usage reported costs ${micros} µ$`);
    micros = input.reservedMicros;
  }
  if (notes.length > 0) usage.adjusted = notes;
  return { usage, costMicros: micros };
}

/** Writes a report gives without their lifetime (`writesUnsplit`) were written for as long as the request asked. */
function withLifetime(reported: Usage, lifetime: CacheLifetime, notes: string[]): Usage {
  if (reported.writesUnsplit !== true || lifetime !== "1h" || reported.cacheWriteTokens === undefined) return reported;
  notes.push(`usage.cache_write_tokens ${reported.cacheWriteTokens} counted as 1-hour writes: the request asked for an hour`);
  const { cacheWriteTokens, ...rest } = reported;
  return { ...rest, cacheWrite1hTokens: (reported.cacheWrite1hTokens ?? 0) + cacheWriteTokens };
}

/**
 * The reported classes, each within what is left of the prompt (or the completion) as
 * charged: a prompt clamped to what can have been sent cannot keep the cache classes of
 * the larger one reported. In the readers' order (reads, then 5-minute, then 1-hour
 * writes), so no token is charged in two classes.
 */
function classesWithin(usage: Usage, reported: Usage, notes: string[]): void {
  let left = usage.promptTokens;
  const prompt = [
    ["cacheReadTokens", "cache_read_tokens"],
    ["cacheWriteTokens", "cache_write_tokens"],
    ["cacheWrite1hTokens", "cache_write_1h_tokens"],
  ] as const;
  for (const [name, field] of prompt) if (reported[name] !== undefined) left -= part(usage, name, field, reported[name], left, notes);
  if (reported.reasoningTokens !== undefined) part(usage, "reasoningTokens", "reasoning_tokens", reported.reasoningTokens, usage.completionTokens, notes);
}

/**
 * A reported count within what is possible: above `limit` it is clamped; a count far
 * below the router's own, `floor` (under a quarter of it: a 0, a negative field, a 1 for
 * a long prompt), is replaced by that count.
 */
function bounded(field: string, value: number, { floor, limit }: { floor: number; limit: number }, notes: string[]): number {
  if (value > limit) {
    notes.push(`usage.${field} ${value} is more than can have been used: clamped to ${limit}`);
    return limit;
  }
  if (value < BELIEVED_SHARE * floor) {
    const counted = Math.min(floor, limit);
    notes.push(`usage.${field} ${value} is far below what was used: counted as ${counted}`);
    return counted;
  }
  return value;
}
