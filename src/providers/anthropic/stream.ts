/**
 * Anthropic's Messages stream as OpenAI's chat-completion chunks: `message_start` opens the
 * answer, each `content_block_delta` becomes a delta (text, `reasoning`, a tool call's
 * arguments), `message_delta` holds the stop reason and the final output count, and
 * `message_stop` ends it with the finish chunk, the usage chunk and `[DONE]`. A `ping` is a
 * comment (it keeps the relay's idle timer quiet while the model thinks); an `error` event is
 * OpenAI's in-stream error, which the relay reads as a failure at the start and a
 * truncation after. The opening chunk waits for the first block: an error before any
 * content is the stream's first event, so the call fails before the client saw a byte, and
 * is retried. A stream that ends without `message_stop` ends without `[DONE]`.
 */
import type { EventSourceMessage } from "eventsource-parser";
import { rewriteSse } from "../sse-rewrite.ts";
import { readAnthropicStreamUsage } from "../usage/anthropic.ts";
import { chatUsage, finishReason } from "./answer.ts";
import { JSON_ANSWER_TOOL } from "./request.ts";

type Event = {
  type?: string;
  index?: number;
  message?: { id?: string; model?: string; usage?: unknown };
  content_block?: { type?: string; id?: string; name?: string; text?: string };
  delta?: { type?: string; text?: string; thinking?: string; partial_json?: string; stop_reason?: unknown };
  usage?: unknown;
  error?: { type?: string; message?: string };
};

export function toChatStream(source: ReadableStream<Uint8Array>, upstreamModel: string): ReadableStream<Uint8Array> {
  let id = "";
  let model = upstreamModel;
  const created = Math.floor(Date.now() / 1000);
  let startUsage: unknown;
  let deltaUsage: unknown;
  let stop: unknown;
  let jsonAnswer = false;
  /** Each tool_use block's place among the answer's tool calls, by the block's index. */
  const calls = new Map<number, number>();
  /** Blocks whose arguments are the answer's text (the JSON answer's tool). */
  const answerBlocks = new Set<number>();
  let out: string[] = [];
  /** The opening chunk, held until the answer has a block (or ends). */
  let opening: string | undefined;
  const open = (): void => {
    if (opening === undefined) return;
    out.unshift(opening);
    opening = undefined;
  };

  const chunk = (delta: Record<string, unknown>, finish: string | null = null): void => {
    out.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
  };

  const onEvent = (event: Event): void => {
    const index = event.index ?? 0;
    switch (event.type) {
      case "message_start":
        id = event.message?.id ?? `msg_${crypto.randomUUID()}`;
        model = event.message?.model ?? upstreamModel;
        startUsage = event.message?.usage;
        chunk({ role: "assistant", content: "" });
        opening = out.pop();
        return;
      case "content_block_start": {
        open();
        const block = event.content_block;
        if (block?.type === "tool_use" && block.name === JSON_ANSWER_TOOL) {
          jsonAnswer = true;
          answerBlocks.add(index);
        } else if (block?.type === "tool_use") {
          calls.set(index, calls.size);
          chunk({ tool_calls: [{ index: calls.get(index), id: block.id, type: "function", function: { name: block.name, arguments: "" } }] });
        } else if (block?.type === "text" && block.text) chunk({ content: block.text });
        return;
      }
      case "content_block_delta": {
        const delta = event.delta;
        if (delta?.type === "text_delta" && delta.text) chunk({ content: delta.text });
        else if (delta?.type === "thinking_delta" && delta.thinking) chunk({ reasoning: delta.thinking });
        else if (delta?.type === "input_json_delta" && delta.partial_json) {
          if (answerBlocks.has(index)) chunk({ content: delta.partial_json });
          else if (calls.has(index)) chunk({ tool_calls: [{ index: calls.get(index), function: { arguments: delta.partial_json } }] });
        }
        return;
      }
      case "message_delta":
        if (event.delta?.stop_reason != null) stop = event.delta.stop_reason;
        if (event.usage !== undefined) deltaUsage = event.usage;
        return;
      case "message_stop": {
        open();
        chunk({}, finishReason(stop, jsonAnswer));
        const usage = readAnthropicStreamUsage(startUsage, deltaUsage);
        if (usage !== undefined)
          out.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: chatUsage(usage) })}\n\n`);
        out.push("data: [DONE]\n\n");
        return;
      }
      case "ping":
        out.push(": ping\n\n");
        return;
      case "error":
        out.push(
          `data: ${JSON.stringify({ error: { message: event.error?.message ?? "The provider's stream failed", type: event.error?.type ?? "api_error" } })}\n\n`,
        );
        return;
      default:
        // content_block_stop, and events Anthropic may add: nothing to say in OpenAI's format.
        return;
    }
  };

  const read = (message: EventSourceMessage): void => {
    try {
      onEvent(JSON.parse(message.data) as Event);
    } catch {
      // not JSON: passed on as it came, for the relay to call unreadable
      out.push(`data: ${message.data}\n\n`);
    }
  };
  return rewriteSse(source, read, () => {
    const text = out.join("");
    out = [];
    return text;
  });
}
