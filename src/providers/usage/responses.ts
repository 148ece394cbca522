/** OpenAI's Responses API `usage`, read into the classes. */
import { objectOf, part, reportFields, tokenCount, type Usage } from "../usage.ts";

/**
 * The Responses API's rule: `input_tokens` is the whole prompt and INCLUDES
 * `input_tokens_details.cached_tokens` (cache reads; OpenAI reports no writes, it caches
 * prefixes for free); `output_tokens` includes `output_tokens_details.reasoning_tokens`.
 * Counts are bounded as `readUsage`'s are, each change listed in `adjusted`.
 * @example readResponsesUsage({ input_tokens: 1000, output_tokens: 20, input_tokens_details: { cached_tokens: 768 } })
 * // { promptTokens: 1000, completionTokens: 20, cacheReadTokens: 768 }
 */
export function readResponsesUsage(value: unknown): Usage | undefined {
  const fields = reportFields(value, "input_tokens", "output_tokens");
  if (fields === undefined) return undefined;
  const adjusted: string[] = [];
  const usage: Usage = {
    promptTokens: tokenCount("input_tokens", fields.input_tokens, adjusted),
    completionTokens: tokenCount("output_tokens", fields.output_tokens, adjusted),
  };
  const input = objectOf(fields.input_tokens_details);
  const output = objectOf(fields.output_tokens_details);
  if (input.cached_tokens != null) part(usage, "cacheReadTokens", "input_tokens_details.cached_tokens", input.cached_tokens, usage.promptTokens, adjusted);
  if (output.reasoning_tokens != null)
    part(usage, "reasoningTokens", "output_tokens_details.reasoning_tokens", output.reasoning_tokens, usage.completionTokens, adjusted);
  if (adjusted.length > 0) usage.adjusted = adjusted;
  return usage;
}
