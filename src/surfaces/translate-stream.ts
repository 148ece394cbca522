/**
 * The one loop every surface's stream runs: it reads the canonical SSE stream (a
 * provider's chat.completion.chunk events relayed live, or a cached completion replayed
 * as them) and hands each chunk to the surface's translator, which returns the events
 * to send in its own format. The relay ends a stream that broke after its first byte
 * with an error event; an end with neither that nor `[DONE]` is a finished replay.
 */
import { createParser } from "eventsource-parser";
import type { Answer } from "../engine/outcome.ts";
import { IDLE, idleDeadline } from "../http/idle-deadline.ts";
import type { Chunk } from "./completion.ts";

export type Translator = {
  /** The events for one chunk. */
  chunk(chunk: Chunk): string;
  /** The events that end the answer (after what the surface keeps of it is kept). */
  end(): string | Promise<string>;
  /** The events that end a stream the provider broke off. */
  error(message: string): string;
  /** What to send when the provider has been silent for `idleMs` (Anthropic's `ping`). */
  idle?(): string;
};

const encoder = new TextEncoder();

export function translateStream(source: ReadableStream<Uint8Array>, translator: Translator, idleMs = 10_000): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  let out = "";
  let ended = false;
  /** `[DONE]` came: the end is sent once the translator has made it. */
  let done = false;
  const finish = (events: string): void => {
    out += events;
    ended = true;
  };
  const parser = createParser({
    onEvent(event) {
      if (ended || done) return;
      if (event.data === "[DONE]") {
        done = true;
        return;
      }
      let chunk: Chunk;
      try {
        chunk = JSON.parse(event.data) as Chunk;
      } catch {
        return;
      }
      if (chunk.error !== undefined) return finish(translator.error(chunk.error.message ?? "The provider's stream failed"));
      out += translator.chunk(chunk);
    },
  });

  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const deadline = translator.idle === undefined ? undefined : idleDeadline(idleMs);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (out === "" && !ended) {
          reading ??= reader.read();
          const result = deadline === undefined ? await reading : await deadline.race(reading);
          if (result === IDLE) {
            out += translator.idle?.() ?? "";
            break;
          }
          reading = undefined;
          parser.feed(result.done ? `${decoder.decode()}\n\n` : decoder.decode(result.value, { stream: true }));
          if (!ended && (done || result.done)) finish(await translator.end());
        }
      } catch (error) {
        deadline?.stop();
        throw error;
      }
      if (out !== "") controller.enqueue(encoder.encode(out));
      out = "";
      if (ended) {
        deadline?.stop();
        controller.close();
        void reader.cancel().catch(() => {});
      }
    },
    cancel(reason) {
      deadline?.stop();
      return reader.cancel(reason);
    },
  });
}

/** A streamed answer's canonical SSE: the provider's, relayed, or the cached replay's text. */
export function canonicalStream(answer: Exclude<Answer, { kind: "json" }>): ReadableStream<Uint8Array> {
  if (answer.kind === "stream") return answer.body;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(answer.body));
      controller.close();
    },
  });
}
