/**
 * Anthropic's Messages `usage`, read into the classes: its prompt is reported in pieces,
 * and in a stream across two events.
 */
import { objectOf, optionalCount, part, reportFields, tokenCount, type Usage, wholeOf } from "../usage.ts";

/**
 * Anthropic's rule: `input_tokens` is only the uncached rest of the prompt; it EXCLUDES
 * `cache_read_input_tokens` (reads) and `cache_creation_input_tokens` (writes), so the whole
 * prompt is the sum of the three. `cache_creation` splits the writes by lifetime,
 * `ephemeral_5m_input_tokens` and `ephemeral_1h_input_tokens`; without it every write is
 * at the default lifetime, 5 minutes. Where the total and the split disagree the larger
 * is counted, the excess as 5-minute writes, so a report cannot hide a write by
 * splitting it short. `output_tokens` includes thinking (Anthropic reports no split).
 * Counts are bounded as `readUsage`'s are, each change listed in `adjusted`.
 * @example readAnthropicUsage({ input_tokens: 10, cache_read_input_tokens: 900, output_tokens: 5 })
 * // { promptTokens: 910, completionTokens: 5, cacheReadTokens: 900 }
 */
export function readAnthropicUsage(value: unknown): Usage | undefined {
  const fields = reportFields(value, "input_tokens", "output_tokens");
  if (fields === undefined) return undefined;
  const adjusted: string[] = [];
  const uncached = tokenCount("input_tokens", fields.input_tokens, adjusted);
  const read = optionalCount("cache_read_input_tokens", fields.cache_read_input_tokens, adjusted);
  const total = optionalCount("cache_creation_input_tokens", fields.cache_creation_input_tokens, adjusted);
  const split = objectOf(fields.cache_creation);
  let write5m = optionalCount("cache_creation.ephemeral_5m_input_tokens", split.ephemeral_5m_input_tokens, adjusted);
  const write1h = optionalCount("cache_creation.ephemeral_1h_input_tokens", split.ephemeral_1h_input_tokens, adjusted);
  if (fields.cache_creation_input_tokens != null && (split.ephemeral_5m_input_tokens != null || split.ephemeral_1h_input_tokens != null)) {
    if (total !== write5m + write1h)
      adjusted.push(`usage.cache_creation_input_tokens ${total} is not cache_creation's ${write5m} + ${write1h}: the larger counted`);
  }
  if (total > write5m + write1h) write5m = total - write1h;
  const promptTokens = wholeOf("input_tokens + cache_read_input_tokens + cache_creation_input_tokens", [uncached, read, write5m, write1h], adjusted);
  const usage: Usage = { promptTokens, completionTokens: tokenCount("output_tokens", fields.output_tokens, adjusted) };
  let left = promptTokens;
  left -= part(usage, "cacheReadTokens", "cache_read_input_tokens", read, left, adjusted);
  left -= part(usage, "cacheWriteTokens", "cache_creation.ephemeral_5m_input_tokens", write5m, left, adjusted);
  part(usage, "cacheWrite1hTokens", "cache_creation.ephemeral_1h_input_tokens", write1h, left, adjusted);
  if (adjusted.length > 0) usage.adjusted = adjusted;
  return usage;
}

/**
 * A Messages stream's usage: `message_start`'s `message.usage` carries the prompt's classes
 * (and an early `output_tokens`), `message_delta`'s `usage` the final output. The delta's
 * counts are cumulative, so each it sets replaces the start's; the rest stand.
 * @example readAnthropicStreamUsage({ input_tokens: 3, cache_read_input_tokens: 800, output_tokens: 1 }, { output_tokens: 42 })
 * // { promptTokens: 803, completionTokens: 42, cacheReadTokens: 800 }
 */
export function readAnthropicStreamUsage(start: unknown, delta: unknown): Usage | undefined {
  const merged = { ...objectOf(start) };
  for (const [name, count] of Object.entries(objectOf(delta))) if (count !== null && count !== undefined) merged[name] = count;
  return readAnthropicUsage(merged);
}
