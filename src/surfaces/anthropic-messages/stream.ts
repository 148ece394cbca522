/**
 * The canonical stream (OpenAI's chat.completion.chunk events, relayed live or replayed
 * from the cache) as Anthropic's Messages events, in their order: `message_start`, then
 * per block `content_block_start`, `content_block_delta` (`thinking_delta`,
 * `text_delta`, `input_json_delta`) and `content_block_stop`, then `message_delta`
 * (the stop reason and usage) and `message_stop`. A `ping` goes out while the provider
 * is silent; an error the relay reports after the first byte becomes `event: error`
 * with Anthropic's error body, and the stream ends there.
 */
import { createParser } from "eventsource-parser";
import { type Completion, messageId, messageUsage, type OpenAiUsage, type StopReason, stopReason } from "./message.ts";

type Delta = {
  content?: string | null;
  reasoning?: string | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
};
type Chunk = Completion & { choices?: { delta?: Delta; finish_reason?: string | null }[]; error?: { message?: string; code?: string } };

/** How long the provider may be silent before a `ping` goes out. */
export const PING_MS = 10_000;

const encoder = new TextEncoder();

export function toMessageStream(source: ReadableStream<Uint8Array>, pingMs = PING_MS): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  let out: string[] = [];
  let started = false;
  let ended = false;
  let index = -1;
  let open: "text" | "thinking" | "tool_use" | undefined;
  let stop: StopReason = "end_turn";
  let usage: OpenAiUsage | undefined;

  const emit = (type: string, body: Record<string, unknown>): void => {
    out.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`);
  };
  const start = (chunk: Chunk): void => {
    if (started) return;
    started = true;
    emit("message_start", {
      message: {
        id: messageId(chunk.id),
        type: "message",
        role: "assistant",
        model: chunk.model ?? "",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
    emit("ping", {});
  };
  const close = (): void => {
    if (open === undefined) return;
    emit("content_block_stop", { index });
    open = undefined;
  };
  const begin = (kind: NonNullable<typeof open>, block: Record<string, unknown>): void => {
    close();
    index += 1;
    open = kind;
    emit("content_block_start", { index, content_block: block });
  };
  const finish = (): void => {
    if (ended) return;
    ended = true;
    if (!started) start({});
    close();
    emit("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: messageUsage(usage) });
    emit("message_stop", {});
  };
  const fail = (message: string): void => {
    if (ended) return;
    ended = true;
    emit("error", { error: { type: "api_error", message } });
  };

  const parser = createParser({
    onEvent(event) {
      if (ended) return;
      if (event.data === "[DONE]") return finish();
      let chunk: Chunk;
      try {
        chunk = JSON.parse(event.data) as Chunk;
      } catch {
        return;
      }
      if (chunk.error !== undefined) return fail(chunk.error.message ?? "The provider's stream failed");
      start(chunk);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      if (typeof delta?.reasoning === "string" && delta.reasoning !== "") {
        if (open !== "thinking") begin("thinking", { type: "thinking", thinking: "", signature: "" });
        emit("content_block_delta", { index, delta: { type: "thinking_delta", thinking: delta.reasoning } });
      }
      if (typeof delta?.content === "string" && delta.content !== "") {
        if (open !== "text") begin("text", { type: "text", text: "" });
        emit("content_block_delta", { index, delta: { type: "text_delta", text: delta.content } });
      }
      for (const call of delta?.tool_calls ?? []) {
        if (call.id !== undefined || open !== "tool_use") {
          begin("tool_use", {
            type: "tool_use",
            id: call.id ?? `toolu_${crypto.randomUUID().replaceAll("-", "")}`,
            name: call.function?.name ?? "",
            input: {},
          });
        }
        const partial = call.function?.arguments;
        if (partial) emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: partial } });
      }
      if (choice?.finish_reason) stop = stopReason(choice.finish_reason);
    },
  });

  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const PING = Symbol("ping");
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (out.length === 0 && !ended) {
        reading ??= reader.read();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const result = await Promise.race([reading, new Promise<typeof PING>((resolve) => (timer = setTimeout(() => resolve(PING), pingMs)))]);
        if (timer !== undefined) clearTimeout(timer);
        if (result === PING) {
          emit("ping", {});
          break;
        }
        reading = undefined;
        if (result.done) {
          parser.feed(`${decoder.decode()}\n\n`);
          // The relay ends a broken stream with an error event; an end with neither that nor [DONE] is a finished replay.
          finish();
        } else parser.feed(decoder.decode(result.value, { stream: true }));
      }
      if (out.length > 0) controller.enqueue(encoder.encode(out.join("")));
      out = [];
      if (ended) {
        controller.close();
        void reader.cancel().catch(() => {});
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
