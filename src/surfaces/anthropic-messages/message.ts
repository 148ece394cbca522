/**
 * The canonical answer (OpenAI's chat.completion) as Anthropic's Message: content
 * blocks (thinking, text, `tool_use` with the call's id), `stop_reason` from
 * `finish_reason`, and usage as Anthropic counts it, the cache's counts always there.
 */
import type { Completion, OpenAiUsage } from "../completion.ts";

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal";

export function stopReason(finish: string | null | undefined): StopReason {
  switch (finish) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return "end_turn";
  }
}

/**
 * Usage as Anthropic reports it: `input_tokens` is the prompt WITHOUT its cache reads and
 * writes, which OpenAI counts inside `prompt_tokens`; the cache counts are always there,
 * 0 when none, as Anthropic's clients read them. OpenAI's format reports cache writes in
 * one count, split here by its `cache_write_1h_tokens` where it gives one, else by the
 * request's own rule (canonical/request.ts `asksOneHourCache`): all 1-hour writes when
 * the request asked for an hour, else all 5-minute ones.
 */
export function messageUsage(usage: OpenAiUsage | undefined, oneHour = false): MessageUsage {
  const prompt = usage?.prompt_tokens ?? 0;
  const read = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const written = usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
  // A report that splits its writes (the native Anthropic adapter's) is taken at its split.
  const split = usage?.prompt_tokens_details?.cache_write_1h_tokens;
  const hour = split === undefined ? (oneHour ? written : 0) : Math.min(split, written);
  return {
    input_tokens: Math.max(0, prompt - read - written),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: written - hour, ephemeral_1h_input_tokens: hour },
    output_tokens: usage?.completion_tokens ?? 0,
  };
}

export type MessageUsage = {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
};

/** A message id in Anthropic's form, from the completion's. */
export const messageId = (id: string | undefined): string => `msg_${(id ?? crypto.randomUUID()).replace(/[^A-Za-z0-9]/g, "").slice(0, 40)}`;

/** Tool arguments as the object Anthropic's `input` is; arguments that are not a JSON object are kept under `_raw`. */
export function toolInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text === "" ? "{}" : text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // not JSON: kept as written
  }
  return { _raw: text };
}

/** The Message for a JSON answer; `oneHour` as `messageUsage` takes it. */
export function toMessage(completionText: string, oneHour = false): string {
  const completion = JSON.parse(completionText) as Completion;
  const choice = completion.choices?.[0];
  const content: Record<string, unknown>[] = [];
  const reasoning = choice?.message?.reasoning;
  if (typeof reasoning === "string" && reasoning !== "") content.push({ type: "thinking", thinking: reasoning, signature: "" });
  const text = choice?.message?.content;
  if (typeof text === "string" && text !== "") content.push({ type: "text", text });
  for (const call of choice?.message?.tool_calls ?? []) {
    content.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  }
  return JSON.stringify({
    id: messageId(completion.id),
    type: "message",
    role: "assistant",
    model: completion.model ?? "",
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: messageUsage(completion.usage, oneHour),
  });
}
