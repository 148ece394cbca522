/**
 * The canonical stream as Anthropic's Messages events, in their order: `message_start`,
 * then per block `content_block_start`, `content_block_delta` (`thinking_delta`,
 * `text_delta`, `input_json_delta`) and `content_block_stop`, then `message_delta` (the
 * stop reason and usage) and `message_stop`. A `ping` goes out while the provider is
 * silent; an error the relay reports after the first byte becomes `event: error` with
 * Anthropic's error body, and the stream ends there.
 */
import { type Chunk, type OpenAiUsage, streamedToolCalls } from "../completion.ts";
import { translateStream } from "../translate-stream.ts";
import { messageId, messageUsage, type StopReason, stopReason } from "./message.ts";

/** How long the provider may be silent before a `ping` goes out. */
export const PING_MS = 10_000;

const event = (type: string, body: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;

/**
 * `oneHour` splits cache writes as `messageUsage` does. The counts come with the stream's
 * last chunk, so `message_start` says 0 for each and `message_delta` has them all (the SDKs
 * take input, cache read and cache write totals from it; the split by TTL is in it too).
 */
export function toMessageStream(source: ReadableStream<Uint8Array>, pingMs = PING_MS, oneHour = false): ReadableStream<Uint8Array> {
  let started = false;
  let index = -1;
  let open: "text" | "thinking" | "tool_use" | undefined;
  let stop: StopReason = "end_turn";
  let usage: OpenAiUsage | undefined;

  const start = (chunk: Chunk): string => {
    if (started) return "";
    started = true;
    const message = {
      id: messageId(chunk.id),
      type: "message",
      role: "assistant",
      model: chunk.model ?? "",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: messageUsage(undefined),
    };
    return event("message_start", { message }) + event("ping", {});
  };
  const close = (): string => {
    if (open === undefined) return "";
    open = undefined;
    return event("content_block_stop", { index });
  };
  const begin = (kind: NonNullable<typeof open>, block: Record<string, unknown>): string => {
    const closed = close();
    index += 1;
    open = kind;
    return closed + event("content_block_start", { index, content_block: block });
  };

  return translateStream(
    source,
    {
      chunk(chunk) {
        let out = start(chunk);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        const delta = choice?.delta;
        if (typeof delta?.reasoning === "string" && delta.reasoning !== "") {
          if (open !== "thinking") out += begin("thinking", { type: "thinking", thinking: "", signature: "" });
          out += event("content_block_delta", { index, delta: { type: "thinking_delta", thinking: delta.reasoning } });
        }
        if (typeof delta?.content === "string" && delta.content !== "") {
          if (open !== "text") out += begin("text", { type: "text", text: "" });
          out += event("content_block_delta", { index, delta: { type: "text_delta", text: delta.content } });
        }
        for (const call of streamedToolCalls(delta)) {
          if (call.id !== undefined || open !== "tool_use") {
            const id = call.id ?? `toolu_${crypto.randomUUID().replaceAll("-", "")}`;
            out += begin("tool_use", { type: "tool_use", id, name: call.function?.name ?? "", input: {} });
          }
          const partial = call.function?.arguments;
          if (partial) out += event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: partial } });
        }
        if (choice?.finish_reason) stop = stopReason(choice.finish_reason);
        return out;
      },
      end: () =>
        start({}) +
        close() +
        event("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: messageUsage(usage, oneHour) }) +
        event("message_stop", {}),
      error: (message) => event("error", { error: { type: "api_error", message } }),
      idle: () => event("ping", {}),
    },
    pingMs,
  );
}
