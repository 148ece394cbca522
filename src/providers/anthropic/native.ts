/**
 * A Messages request routed to Anthropic goes as the client sent it: thinking blocks and
 * their signatures, redacted thinking, every breakpoint, documents and citations, the tool
 * choice and the metadata. Only `model` is the provider's id and `max_tokens` the router's
 * bound (the surface's cap, a budget's or a key's tokens-per-minute cap), and the answer
 * comes back as Anthropic sent it, read here for its usage and completeness.
 */
import type { EventSourceMessage } from "eventsource-parser";
import type { NativeRequest } from "../../canonical/native.ts";
import { type CanonicalRequest, requestedOutputTokens } from "../../canonical/request.ts";
import type { AnswerReaders, StreamEvent } from "../adapter.ts";
import { rewriteSse } from "../sse-rewrite.ts";
import { readAnthropicStreamUsage, readAnthropicUsage } from "../usage/anthropic.ts";

/** The client's body, with the provider's model id and the router's bound on the answer. */
export function nativeBody(native: NativeRequest, sent: CanonicalRequest, upstreamModel: string, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { ...native.body, model: upstreamModel };
  const asked = typeof native.body.max_tokens === "number" ? native.body.max_tokens : undefined;
  const bound = requestedOutputTokens(sent);
  const maxTokens = bound === undefined ? asked : asked === undefined ? bound : Math.min(asked, bound);
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  // Anthropic refuses a thinking budget not below max_tokens: a bound the router lowered lowers the budget with it.
  const thinking = native.body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  if (maxTokens !== undefined && typeof thinking?.budget_tokens === "number" && thinking.budget_tokens >= maxTokens) {
    body.thinking = { ...thinking, budget_tokens: maxTokens - 1 };
  }
  if (stream) body.stream = true;
  else delete body.stream;
  return body;
}

/**
 * The stream's events as Anthropic sent them, one by one, but `message_start` (and the
 * `ping`s after it) held until the first content block, `message_delta` or the end: an
 * `error` before any content then comes first, and the relay fails the call's start
 * (retried; the client has seen nothing) instead of relaying a message that never begins.
 */
export function holdOpening(source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let held: string[] | undefined = [];
  let out = "";
  const onEvent = (message: EventSourceMessage): void => {
    const text = `${message.event === undefined ? "" : `event: ${message.event}\n`}data: ${message.data.split("\n").join("\ndata: ")}\n\n`;
    const type = held === undefined ? undefined : eventType(message.data);
    if (held === undefined) out += text;
    else if (type === "error") {
      held = undefined;
      out += text;
    } else if (type === "message_start" || type === "ping") held.push(text);
    else {
      out += held.join("") + text;
      held = undefined;
    }
  };
  return rewriteSse(source, onEvent, (ending) => {
    // A stream that ends with its opening still held sends it: nothing came after it.
    if (ending && held !== undefined) out = held.join("") + out;
    const text = out;
    out = "";
    return text;
  });
}

/** Anthropic's in-stream error event, as a stream the router ends early ends. */
export const nativeErrorEvent = (message: string): string =>
  `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`;

type Block = { type?: string; text?: unknown; thinking?: unknown; input?: unknown };

/** Readers of one call's native answer; a stream's keep the usage `message_start` gave until `message_delta` completes it. */
export function nativeReaders(): AnswerReaders {
  let startUsage: unknown;
  return {
    readCompletion(text) {
      let message: { type?: unknown; content?: unknown; stop_reason?: unknown; usage?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        return { failure: "not_json" };
      }
      if (typeof message !== "object" || message === null) return { failure: "not_json" };
      if (message.type === "error") return { failure: "error" };
      if (!Array.isArray(message.content)) return { failure: "no_choices" };
      let outputChars = 0;
      for (const block of message.content as Block[]) outputChars += blockChars(block);
      return { usage: readAnthropicUsage(message.usage), complete: typeof message.stop_reason === "string", outputChars };
    },

    firstEvent(data) {
      const type = eventType(data);
      return type === "message_start" ? "chunk" : type === "error" ? "error" : "unreadable";
    },

    readEvent(data): StreamEvent {
      const none: StreamEvent = { finished: false, usage: undefined, usageOnly: false, outputChars: 0 };
      let event: {
        type?: string;
        message?: { usage?: unknown };
        delta?: { stop_reason?: unknown; text?: unknown; thinking?: unknown; partial_json?: unknown };
        usage?: unknown;
      };
      try {
        event = JSON.parse(data) as typeof event;
      } catch {
        return none;
      }
      switch (event.type) {
        case "message_start":
          startUsage = event.message?.usage;
          return { ...none, usage: readAnthropicUsage(startUsage) };
        case "content_block_delta": {
          const delta = event.delta;
          const written = [delta?.text, delta?.thinking, delta?.partial_json].find((value) => typeof value === "string") as string | undefined;
          return { ...none, outputChars: written?.length ?? 0 };
        }
        case "message_delta":
          return { ...none, finished: event.delta?.stop_reason != null, usage: readAnthropicStreamUsage(startUsage, event.usage) };
        case "message_stop":
          return { ...none, finished: true };
        default:
          return none;
      }
    },
  };
}

function blockChars(block: Block): number {
  if (typeof block?.text === "string") return block.text.length;
  if (typeof block?.thinking === "string") return block.thinking.length;
  if (block?.type === "tool_use") return JSON.stringify(block.input ?? {}).length;
  return 0;
}

function eventType(data: string): string | undefined {
  try {
    const parsed = JSON.parse(data) as { type?: unknown };
    return typeof parsed.type === "string" ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}
