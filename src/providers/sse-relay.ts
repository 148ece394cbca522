/**
 * Relays a provider's SSE stream to the client event by event, reading `usage` on
 * the way and turning a broken or stalled upstream into a clean error event.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { readUsage, type Usage } from "./usage.ts";

export type StreamOutcome = {
  usage: Usage | undefined;
  /** The upstream stopped before `data: [DONE]`: the client got a partial answer. */
  truncated: boolean;
  /** Why it stopped early, when it did. */
  error: "upstream_stream_broken" | "upstream_timeout" | "client_disconnected" | undefined;
};

type RelayOptions = {
  idleTimeoutMs: number;
  /** When false, the usage-only chunk the router asked for on its own behalf is not forwarded. */
  clientWantsUsage: boolean;
  /** Cancels the upstream request. */
  abort: () => void;
  /** Sees every `data:` payload but `[DONE]`, including those not forwarded. */
  onData?: (data: string) => void;
};

const encoder = new TextEncoder();

/**
 * Returns the stream to send the client and a promise of how it ended. Nothing is
 * buffered beyond the event being read; backpressure reaches the upstream.
 */
export function relaySse(
  upstream: ReadableStream<Uint8Array>,
  options: RelayOptions,
): { body: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> } {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  const outcome: StreamOutcome = { usage: undefined, truncated: false, error: undefined };
  let sawDone = false;
  // Some providers end a finished stream without `[DONE]`: a finish reason is as good an end.
  let sawFinish = false;
  let pending: string[] = [];
  let settle: (value: StreamOutcome) => void = () => {};
  const finished = new Promise<StreamOutcome>((resolve) => (settle = resolve));

  const parser = createParser({
    onEvent: (event) => {
      if (event.data === "[DONE]") sawDone = true;
      else {
        if (!sawFinish && FINISH_PATTERN.test(event.data)) sawFinish = true;
        options.onData?.(event.data);
        if (!keep(event, outcome, options.clientWantsUsage)) return;
      }
      pending.push(serialize(event));
    },
    onComment: (comment) => pending.push(`:${comment}\n\n`),
  });

  const end = (controller: ReadableStreamDefaultController<Uint8Array>, error: StreamOutcome["error"]): void => {
    if (sawDone || sawFinish) error = undefined;
    else error ??= "upstream_stream_broken";
    if (error !== undefined) {
      outcome.truncated = true;
      outcome.error = error;
      controller.enqueue(encoder.encode(errorEvent(error)));
    }
    controller.close();
    settle(outcome);
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Read until at least one whole event is ready, so each pull forwards something.
      while (pending.length === 0) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await readWithin(reader, options.idleTimeoutMs);
        } catch (error) {
          options.abort();
          return end(controller, error === IDLE ? "upstream_timeout" : "upstream_stream_broken");
        }
        if (chunk.done) {
          parser.feed(decoder.decode() + "\n\n");
          if (pending.length > 0) controller.enqueue(encoder.encode(pending.join("")));
          return end(controller, undefined);
        }
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      }
      controller.enqueue(encoder.encode(pending.join("")));
      pending = [];
    },
    cancel() {
      options.abort();
      void reader.cancel().catch(() => {});
      outcome.truncated = !(sawDone || sawFinish);
      outcome.error = outcome.truncated ? "client_disconnected" : undefined;
      settle(outcome);
    },
  });
  return { body, outcome: finished };
}

/** Reads usage from a chunk; says whether the chunk goes on to the client. */
function keep(event: EventSourceMessage, outcome: StreamOutcome, clientWantsUsage: boolean): boolean {
  if (!event.data.includes('"usage"')) return true;
  let chunk: { usage?: unknown; choices?: unknown[] };
  try {
    chunk = JSON.parse(event.data) as typeof chunk;
  } catch {
    return true;
  }
  const usage = readUsage(chunk.usage);
  if (usage === undefined) return true;
  outcome.usage = usage;
  return clientWantsUsage || (Array.isArray(chunk.choices) && chunk.choices.length > 0);
}

function serialize(event: EventSourceMessage): string {
  const name = event.event === undefined ? "" : `event: ${event.event}\n`;
  return `${name}data: ${event.data.split("\n").join("\ndata: ")}\n\n`;
}

/** OpenAI's in-stream error shape, which the official SDKs raise as an APIError. */
function errorEvent(code: NonNullable<StreamOutcome["error"]>): string {
  const message =
    code === "upstream_timeout" ? "The provider stalled mid-stream; the answer is incomplete" : "The provider's stream broke off; the answer is incomplete";
  return `data: ${JSON.stringify({ error: { message, type: "upstream_error", param: null, code } })}\n\n`;
}

const IDLE = Symbol("idle");
/** A chunk whose choice has a finish reason (`"finish_reason":"stop"`; `null` does not match). */
const FINISH_PATTERN = /"finish_reason"\s*:\s*"/;

async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number): Promise<ReadableStreamReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(IDLE), ms)));
  try {
    return await Promise.race([reader.read(), idle]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
