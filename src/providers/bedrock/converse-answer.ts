/**
 * A Converse answer as an OpenAI chat completion (pure): what the readers, the response
 * cache and every surface read. The structured-output tool's call becomes the answer's text.
 */
import { objectOf } from "../usage.ts";
import { STRUCTURED_OUTPUT_TOOL } from "./converse-request.ts";

/** Converse's stop reasons as OpenAI's finish reasons. */
export function finishReason(stopReason: unknown): string {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "guardrail_intervened":
    case "content_filtered":
      return "content_filter";
    default:
      // end_turn, stop_sequence, and any reason added later: the model stopped on its own.
      return "stop";
  }
}

/**
 * Converse's `usage` as OpenAI's. Bedrock's rule is Anthropic's: `inputTokens` is only the
 * uncached rest of the prompt and EXCLUDES `cacheReadInputTokens` and `cacheWriteInputTokens`
 * (AWS's `totalTokens` is the sum of all four counts). OpenAI's `prompt_tokens` is the whole
 * prompt, its cache reads in `prompt_tokens_details.cached_tokens` and its writes in
 * `cache_write_tokens` (OpenRouter's field), so each class is charged its own price.
 * A count that is not a number is passed on as it came, for `readUsage` to note.
 * @example chatUsage({ inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 900, cacheWriteInputTokens: 90 })
 * // { prompt_tokens: 1000, completion_tokens: 5, total_tokens: 1005, prompt_tokens_details: { cached_tokens: 900, cache_write_tokens: 90 } }
 */
export function chatUsage(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const usage = value as Record<string, unknown>;
  const count = (field: unknown): number => (typeof field === "number" && Number.isFinite(field) && field > 0 ? field : 0);
  const read = count(usage.cacheReadInputTokens);
  const write = count(usage.cacheWriteInputTokens);
  const input = usage.inputTokens;
  const prompt = typeof input === "number" ? input + read + write : input;
  const out: Record<string, unknown> = { prompt_tokens: prompt, completion_tokens: usage.outputTokens };
  if (typeof prompt === "number" && typeof usage.outputTokens === "number") out.total_tokens = prompt + usage.outputTokens;
  if (read > 0 || write > 0) out.prompt_tokens_details = { cached_tokens: read, ...(write > 0 ? { cache_write_tokens: write } : {}) };
  // Bedrock splits the writes by lifetime in `cacheDetails`: the hour's share is `cache_write_1h_tokens`, part of
  // `cache_write_tokens`, which readUsage reads as the split (the native Anthropic adapter's answers carry it too).
  if (write > 0 && Array.isArray(usage.cacheDetails)) {
    const hour = (usage.cacheDetails as { ttl?: unknown; inputTokens?: unknown }[])
      .filter((detail) => detail?.ttl === "1h")
      .reduce((sum, detail) => sum + count(detail.inputTokens), 0);
    (out.prompt_tokens_details as Record<string, unknown>).cache_write_1h_tokens = Math.min(hour, write);
  }
  return out;
}

type ContentBlock = {
  text?: unknown;
  toolUse?: { toolUseId?: unknown; name?: unknown; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: unknown } };
};

/**
 * The Converse answer `text` as a chat completion's JSON; a body that is not a Converse
 * answer comes back as it was, for the reader to refuse.
 */
export function chatCompletion(text: string, upstreamModel: string): string {
  let answer: { output?: { message?: { content?: unknown } }; stopReason?: unknown; usage?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    return text;
  }
  const content = answer?.output?.message?.content;
  if (!Array.isArray(content)) return text;
  let written = "";
  let reasoning = "";
  let structured = false;
  const calls: object[] = [];
  for (const block of content as ContentBlock[]) {
    if (typeof block?.text === "string") written += block.text;
    else if (typeof block?.reasoningContent?.reasoningText?.text === "string") reasoning += block.reasoningContent.reasoningText.text;
    else if (block?.toolUse !== undefined) {
      const { toolUseId, name, input } = block.toolUse;
      if (name === STRUCTURED_OUTPUT_TOOL) {
        structured = true;
        written = JSON.stringify(input ?? {});
      } else calls.push({ id: String(toolUseId), type: "function", function: { name: String(name), arguments: JSON.stringify(input ?? {}) } });
    }
  }
  const message: Record<string, unknown> = { role: "assistant", content: calls.length > 0 && written === "" ? null : written };
  if (calls.length > 0) message.tool_calls = calls;
  if (reasoning !== "") message.reasoning = reasoning;
  // The structured answer came as the forced call: to the client it is the answer, and it stopped there.
  const finish = structured && calls.length === 0 && answer.stopReason === "tool_use" ? "stop" : finishReason(answer.stopReason);
  const completion: Record<string, unknown> = {
    id: `chatcmpl-${crypto.randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: upstreamModel,
    choices: [{ index: 0, message, finish_reason: finish }],
  };
  const usage = chatUsage(answer.usage);
  if (usage !== undefined) completion.usage = usage;
  return JSON.stringify(completion);
}

/** The provider's words in an error body: `message`, or `Message` (AWS's auth layer capitalises it). */
export function errorText(body: string): string {
  try {
    const parsed = objectOf(JSON.parse(body));
    const said = parsed.message ?? parsed.Message;
    if (typeof said === "string") return said;
  } catch {
    // not JSON: the raw text
  }
  return body;
}
