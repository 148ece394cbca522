/** Gemini's `usageMetadata`, read into the classes. */
import { optionalCount, part, reportFields, type Usage, wholeOf } from "../usage.ts";

/**
 * Gemini's rule: `promptTokenCount` is the whole prompt and INCLUDES
 * `cachedContentTokenCount` (cache reads, explicit or implicit); `toolUsePromptTokenCount`
 * (what a built-in tool fed back) is billed as input beside it. The output is
 * `candidatesTokenCount` plus `thoughtsTokenCount`: thoughts are NOT inside the candidates'
 * count, yet are billed at the output price, so both make the completion and thoughts are
 * its reasoning. Gemini reports no cache writes (a cached content is made by its own call).
 * Counts are bounded as `readUsage`'s are, each change listed in `adjusted`.
 * @example readGeminiUsage({ promptTokenCount: 5000, cachedContentTokenCount: 4096, candidatesTokenCount: 30, thoughtsTokenCount: 70 })
 * // { promptTokens: 5000, completionTokens: 100, cacheReadTokens: 4096, reasoningTokens: 70 }
 */
export function readGeminiUsage(value: unknown): Usage | undefined {
  const fields = reportFields(value, "promptTokenCount", "candidatesTokenCount");
  if (fields === undefined) return undefined;
  const adjusted: string[] = [];
  const prompt = optionalCount("promptTokenCount", fields.promptTokenCount, adjusted);
  const toolUse = optionalCount("toolUsePromptTokenCount", fields.toolUsePromptTokenCount, adjusted);
  const candidates = optionalCount("candidatesTokenCount", fields.candidatesTokenCount, adjusted);
  const thoughts = optionalCount("thoughtsTokenCount", fields.thoughtsTokenCount, adjusted);
  const usage: Usage = {
    promptTokens: wholeOf("promptTokenCount + toolUsePromptTokenCount", [prompt, toolUse], adjusted),
    completionTokens: wholeOf("candidatesTokenCount + thoughtsTokenCount", [candidates, thoughts], adjusted),
  };
  // Bounded by promptTokenCount, which holds it, not by the tool-use tokens beside it.
  if (fields.cachedContentTokenCount != null) part(usage, "cacheReadTokens", "cachedContentTokenCount", fields.cachedContentTokenCount, prompt, adjusted);
  if (thoughts > 0) part(usage, "reasoningTokens", "thoughtsTokenCount", thoughts, usage.completionTokens, adjusted);
  if (adjusted.length > 0) usage.adjusted = adjusted;
  return usage;
}
