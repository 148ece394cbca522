/**
 * Token usage as providers report it, checked before anyone prices or stores it
 * (routing/cost.ts prices it). This file reads OpenAI's chat format; the other wire
 * formats have their readers beside it, in usage/, each to the same `Usage`.
 */

export type Usage = {
  /** The whole prompt: every class below included, as OpenAI counts `prompt_tokens`. */
  promptTokens: number;
  /** The whole answer, reasoning included. */
  completionTokens: number;
  /** Prompt tokens read from the provider's cache (part of `promptTokens`). */
  cacheReadTokens?: number;
  /** Prompt tokens written to the provider's cache for 5 minutes (part of `promptTokens`). */
  cacheWriteTokens?: number;
  /** Prompt tokens written to the provider's cache for 1 hour (part of `promptTokens`). */
  cacheWrite1hTokens?: number;
  /** Completion tokens spent reasoning (part of `completionTokens`, billed as output). */
  reasoningTokens?: number;
  /**
   * The report gives cache writes as one count without their lifetime (OpenRouter's
   * `cache_write_tokens`): they were written for as long as the request asked, which the
   * charge knows (engine/charge.ts). Absent where the format splits them (Anthropic's).
   */
  writesUnsplit?: true;
  /** What the router changed in the provider's report, and why; absent when it took the report as sent. */
  adjusted?: string[];
};

/**
 * The most tokens one answer may report per field. Far above any context window
 * times any `n` we allow, far below what a bigint column or a float holds exactly.
 */
export const MAX_REPORTED_TOKENS = 1_000_000_000;

/**
 * OpenAI's chat `usage` object, or `undefined` when absent or not an object. Its rule:
 * `prompt_tokens` is the whole prompt and includes `prompt_tokens_details.cached_tokens`
 * (cache reads; DeepSeek's `prompt_cache_hit_tokens`) and, from OpenRouter,
 * `prompt_tokens_details.cache_write_tokens` (cache writes, their lifetime unsplit: see
 * `writesUnsplit`), of which `prompt_tokens_details.cache_write_1h_tokens`, where the
 * report sets it (the native Anthropic adapter's answers), are the 1-hour ones and the rest
 * 5-minute ones, the split then known; `completion_tokens`
 * includes `completion_tokens_details.reasoning_tokens`. Counts that are
 * negative, fractional, non-finite or over `MAX_REPORTED_TOKENS` are clamped into range
 * (a missing or non-numeric one counts as 0), and each change is listed in `adjusted`,
 * so a provider's bad report can neither break the audit log nor price an answer below zero.
 */
export function readUsage(value: unknown): Usage | undefined {
  const fields = reportFields(value, "prompt_tokens", "completion_tokens");
  if (fields === undefined) return undefined;
  const adjusted: string[] = [];
  const usage: Usage = {
    promptTokens: tokenCount("prompt_tokens", fields.prompt_tokens, adjusted),
    completionTokens: tokenCount("completion_tokens", fields.completion_tokens, adjusted),
  };
  const prompt = objectOf(fields.prompt_tokens_details);
  const completion = objectOf(fields.completion_tokens_details);
  // DeepSeek names its cache reads at the top level; OpenAI (and OpenRouter) inside the details.
  const read = prompt.cached_tokens ?? fields.prompt_cache_hit_tokens;
  const readName = prompt.cached_tokens === undefined ? "prompt_cache_hit_tokens" : "prompt_tokens_details.cached_tokens";
  let left = usage.promptTokens;
  if (read !== undefined) left -= part(usage, "cacheReadTokens", readName, read, left, adjusted);
  if (prompt.cache_write_1h_tokens !== undefined) {
    // The split is known (the native Anthropic adapter's answers): the 1-hour part, then the rest of the writes as 5-minute ones.
    const written = optionalCount("prompt_tokens_details.cache_write_tokens", prompt.cache_write_tokens, adjusted);
    const hour = part(usage, "cacheWrite1hTokens", "prompt_tokens_details.cache_write_1h_tokens", prompt.cache_write_1h_tokens, left, adjusted);
    if (written > hour) part(usage, "cacheWriteTokens", "prompt_tokens_details.cache_write_tokens", written - hour, left - hour, adjusted);
  } else if (prompt.cache_write_tokens !== undefined) {
    if (part(usage, "cacheWriteTokens", "prompt_tokens_details.cache_write_tokens", prompt.cache_write_tokens, left, adjusted) > 0) usage.writesUnsplit = true;
  }
  if (completion.reasoning_tokens !== undefined)
    part(usage, "reasoningTokens", "completion_tokens_details.reasoning_tokens", completion.reasoning_tokens, usage.completionTokens, adjusted);
  if (adjusted.length > 0) usage.adjusted = adjusted;
  return usage;
}

type UsagePart = "cacheReadTokens" | "cacheWriteTokens" | "cacheWrite1hTokens" | "reasoningTokens";

/**
 * A class of the prompt or the completion, read and bounded by what is `left` of its
 * whole: a report cannot read more from the cache than was sent. Set on `usage` when
 * above 0; returns what it counted.
 */
export function part(usage: Usage, name: UsagePart, field: string, value: unknown, left: number, adjusted: string[]): number {
  let count = tokenCount(field, value, adjusted);
  if (count > left) {
    adjusted.push(`usage.${field} ${count} is more than the ${left} tokens it is part of: clamped`);
    count = Math.max(0, left);
  }
  if (count > 0) usage[name] = count;
  return count;
}

/**
 * A whole some formats report in pieces (Anthropic's prompt, Gemini's output): their sum,
 * clamped at `MAX_REPORTED_TOKENS` like any one count.
 */
export function wholeOf(name: string, pieces: readonly number[], adjusted: string[]): number {
  const sum = pieces.reduce((total, piece) => total + piece, 0);
  if (sum <= MAX_REPORTED_TOKENS) return sum;
  adjusted.push(`usage ${name} ${sum} exceeds ${MAX_REPORTED_TOKENS}: clamped`);
  return MAX_REPORTED_TOKENS;
}

/** A count that may be absent: 0 without a note when it is, `tokenCount` when it is not. */
export function optionalCount(name: string, value: unknown, adjusted: string[]): number {
  return value === undefined || value === null ? 0 : tokenCount(name, value, adjusted);
}

/** `value` as an object's fields, or no fields when it is not one. */
/**
 * A usage report's fields, or undefined when `value` is no report: not an object, or
 * without either of the format's two counts (`prompt` and `completion`, by its names).
 * Every reader's first step.
 */
export function reportFields(value: unknown, prompt: string, completion: string): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const fields = value as Record<string, unknown>;
  return fields[prompt] === undefined && fields[completion] === undefined ? undefined : fields;
}

export function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A count as a provider reported it, made whole and in range; each change is listed in `adjusted`. */
export function tokenCount(name: string, value: unknown, adjusted: string[]): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    adjusted.push(`usage.${name} ${describe(value)} is not a number: counted as 0`);
    return 0;
  }
  if (value < 0) {
    adjusted.push(`usage.${name} ${value} is negative: counted as 0`);
    return 0;
  }
  if (value > MAX_REPORTED_TOKENS) {
    adjusted.push(`usage.${name} ${value} exceeds ${MAX_REPORTED_TOKENS}: clamped`);
    return MAX_REPORTED_TOKENS;
  }
  if (!Number.isInteger(value)) {
    adjusted.push(`usage.${name} ${value} is not whole: rounded up`);
    return Math.ceil(value);
  }
  return value;
}

function describe(value: unknown): string {
  const text = value === undefined ? "(missing)" : (JSON.stringify(value) ?? String(value));
  return text.slice(0, 40);
}
