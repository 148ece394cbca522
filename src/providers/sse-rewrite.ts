/**
 * A provider's SSE stream rewritten event by event, the loop the native adapters share
 * (Anthropic's held opening and its translation to chat chunks, Gemini's chunks): the
 * bytes are parsed as they come, each event goes to `onEvent`, and after every chunk read
 * `take` says what to send now; at the end it is called with `ending` to add what a
 * finished stream still owes (a usage chunk, `[DONE]`, events held back).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

const encoder = new TextEncoder();

export function rewriteSse(
  source: ReadableStream<Uint8Array>,
  onEvent: (message: EventSourceMessage) => void,
  take: (ending: boolean) => string,
): ReadableStream<Uint8Array> {
  const parser = createParser({ onEvent });
  const decoder = new TextDecoder();
  const send = (controller: TransformStreamDefaultController<Uint8Array>, ending: boolean): void => {
    const text = take(ending);
    if (text !== "") controller.enqueue(encoder.encode(text));
  };
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(bytes, controller) {
        parser.feed(decoder.decode(bytes, { stream: true }));
        send(controller, false);
      },
      flush(controller) {
        parser.feed(`${decoder.decode()}\n\n`);
        send(controller, true);
      },
    }),
  );
}
