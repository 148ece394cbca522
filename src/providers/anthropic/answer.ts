/**
 * Anthropic's Message as OpenAI's chat completion, what the readers, the response cache and
 * every surface read: text blocks are the content, thinking the `reasoning`, `tool_use`
 * blocks the tool calls (ids kept), `stop_reason` the finish reason, and usage in every
 * class Anthropic reports, the 1-hour cache writes apart (`cache_write_1h_tokens`).
 */
import { readAnthropicUsage } from "../usage/anthropic.ts";
import type { Usage } from "../usage.ts";
import { JSON_ANSWER_TOOL } from "./request.ts";

/** Anthropic's stop reasons as OpenAI's finish reasons; `tool_use` of the JSON answer's tool is a finished answer. */
export function finishReason(stop: unknown, jsonAnswer = false): string {
  switch (stop) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return jsonAnswer ? "stop" : "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/**
 * A usage in OpenAI's chat format: the whole prompt in `prompt_tokens`; reads, writes (all
 * of them) and, of those, the 1-hour ones in its details, so `readUsage` takes the split as
 * it is and charges each class at its own price.
 */
export function chatUsage(usage: Usage): Record<string, unknown> {
  const writes = (usage.cacheWriteTokens ?? 0) + (usage.cacheWrite1hTokens ?? 0);
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadTokens ?? 0, cache_write_tokens: writes, cache_write_1h_tokens: usage.cacheWrite1hTokens ?? 0 },
  };
}

type ContentBlock = { type?: string; text?: unknown; thinking?: unknown; id?: unknown; name?: unknown; input?: unknown };
type MessageAnswer = { type?: string; id?: string; model?: string; content?: unknown; stop_reason?: unknown; usage?: unknown; error?: { message?: unknown } };

/** The completion for a Message, or the text as it came when it is none (the readers then say why). */
export function toChatCompletion(text: string, upstreamModel: string): string {
  let message: MessageAnswer;
  try {
    message = JSON.parse(text) as MessageAnswer;
  } catch {
    return text;
  }
  if (typeof message !== "object" || message === null) return text;
  // Anthropic's error, in a 200: as OpenAI's, which the readers call an error.
  if (message.type === "error") return JSON.stringify({ error: { message: String(message.error?.message ?? "error") } });
  if (!Array.isArray(message.content)) return JSON.stringify({ ...message, choices: [] });
  let content = "";
  let reasoning = "";
  let jsonAnswer = false;
  const calls: Record<string, unknown>[] = [];
  for (const block of message.content as ContentBlock[]) {
    if (block?.type === "text" && typeof block.text === "string") content += block.text;
    else if (block?.type === "thinking" && typeof block.thinking === "string") reasoning += block.thinking;
    else if (block?.type === "tool_use" && block.name === JSON_ANSWER_TOOL) {
      jsonAnswer = true;
      content += JSON.stringify(block.input ?? {});
    } else if (block?.type === "tool_use") {
      calls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const answer: Record<string, unknown> = { role: "assistant", content: content === "" && calls.length > 0 ? null : content };
  if (reasoning !== "") answer.reasoning = reasoning;
  if (calls.length > 0) answer.tool_calls = calls;
  const usage = readAnthropicUsage(message.usage);
  return JSON.stringify({
    id: message.id ?? `msg_${crypto.randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: message.model ?? upstreamModel,
    choices: [{ index: 0, message: answer, finish_reason: message.stop_reason == null ? null : finishReason(message.stop_reason, jsonAnswer) }],
    ...(usage === undefined ? {} : { usage: chatUsage(usage) }),
  });
}
