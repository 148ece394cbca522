/**
 * Relays a provider's SSE stream to the client event by event, reading `usage` on
 * the way (through the provider's adapter, which knows its events) and turning a
 * broken or stalled upstream into a clean error event. The first event is read
 * before the stream is handed over: a stream that fails before
 * it (broken, stalled, empty, unreadable, or an error event) has sent the client
 * nothing yet, so it is thrown as a `StreamStartFailure` and may be retried.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { IDLE, idleDeadline } from "../http/idle-deadline.ts";
import { redactSecrets, sanitizeProviderMessage } from "../security/redact.ts";
import type { ProviderAdapter } from "./adapter.ts";
import type { Usage } from "./usage.ts";

export type StreamOutcome = {
  usage: Usage | undefined;
  /** The upstream stopped before `data: [DONE]`: the client got a partial answer. */
  truncated: boolean;
  /** Why it stopped early, when it did. */
  error: "upstream_stream_broken" | "upstream_timeout" | "client_disconnected" | undefined;
  /** Characters of answer relayed to the client: what is charged when the stream ends without usage. */
  relayedChars: number;
};

type RelayOptions = {
  /** How the provider's adapter reads events. */
  adapter: Pick<ProviderAdapter, "firstEvent" | "readEvent">;
  idleTimeoutMs: number;
  /** When false, the usage-only chunk the router asked for on its own behalf is not forwarded. */
  clientWantsUsage: boolean;
  /** Cancels the upstream request. */
  abort: () => void;
  /** Sees every `data:` payload but `[DONE]`, including those not forwarded. */
  onData?: (data: string) => void;
  /** The event that ends a stream broken midway, in the stream's format: OpenAI's in-stream error unless set (a pass-through's own). */
  errorEvent?: (message: string) => string;
  /** Every secret of the call: none may reach the client through an error event the provider sends mid-stream. */
  secrets: readonly string[];
};

const encoder = new TextEncoder();

/** The stream failed before its first event; nothing reached the client. */
export class StreamStartFailure extends Error {
  readonly reason: "broken" | "stalled" | "empty" | "unreadable" | "error_event";
  constructor(reason: StreamStartFailure["reason"]) {
    super(`stream failed before its first event: ${reason}`);
    this.reason = reason;
  }
}

/**
 * Reads the stream's first event, then returns the stream to send the client and a
 * promise of how it ended. Nothing is buffered beyond the event being read;
 * backpressure reaches the upstream.
 * @throws StreamStartFailure when the stream fails before its first event.
 */
export async function relaySse(
  upstream: ReadableStream<Uint8Array>,
  options: RelayOptions,
): Promise<{ body: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> }> {
  const reader = upstream.getReader();
  const deadline = idleDeadline(options.idleTimeoutMs);
  const decoder = new TextDecoder();
  const outcome: StreamOutcome = { usage: undefined, truncated: false, error: undefined, relayedChars: 0 };
  let sawDone = false;
  // Some providers end a finished stream without `[DONE]`: a finish reason is as good an end.
  let sawFinish = false;
  let pending: string[] = [];
  let upstreamDone = false;
  let firstData: string | undefined;
  let settle: (value: StreamOutcome) => void = () => {};
  const finished = new Promise<StreamOutcome>((resolve) => (settle = resolve));

  const parser = createParser({
    onEvent: (event) => {
      if (event.data === "[DONE]") sawDone = true;
      else {
        firstData ??= event.data;
        const read = options.adapter.readEvent(event.data);
        if (read.finished) sawFinish = true;
        options.onData?.(event.data);
        if (read.usage !== undefined) outcome.usage = read.usage;
        outcome.relayedChars += read.outputChars;
        // The usage chunk the router asked for on its own behalf goes on only if the client asked too.
        if (read.usageOnly && !options.clientWantsUsage) return;
      }
      pending.push(serialize(ERROR_FIELD.test(event.data) ? { ...event, data: withoutSecrets(event.data, options.secrets) } : event));
    },
    onComment: (comment) => pending.push(`:${comment}\n\n`),
  });

  const end = (controller: ReadableStreamDefaultController<Uint8Array>, error: StreamOutcome["error"]): void => {
    if (sawDone || sawFinish) error = undefined;
    else error ??= "upstream_stream_broken";
    if (error !== undefined) {
      outcome.truncated = true;
      outcome.error = error;
      controller.enqueue(encoder.encode(options.errorEvent ? options.errorEvent(errorMessage(error)) : errorEvent(error)));
    }
    controller.close();
    settle(outcome);
  };

  /**
   * Reads until at least one whole event is ready (with `untilData`, one data event:
   * OpenRouter sends comments while the model thinks) or the upstream ended; says why it could not.
   */
  const fill = async (untilData = false): Promise<StreamOutcome["error"]> => {
    while ((untilData ? firstData === undefined && !sawDone : pending.length === 0) && !upstreamDone) {
      let chunk: ReadableStreamReadResult<Uint8Array> | typeof IDLE;
      try {
        chunk = await deadline.race(reader.read());
      } catch {
        options.abort();
        deadline.stop();
        return "upstream_stream_broken";
      }
      if (chunk === IDLE) {
        options.abort();
        deadline.stop();
        return "upstream_timeout";
      }
      if (chunk.done) {
        parser.feed(`${decoder.decode()}\n\n`);
        upstreamDone = true;
        deadline.stop();
      } else parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
    return undefined;
  };

  const failed = await fill(true);
  const first = firstData === undefined ? undefined : options.adapter.firstEvent(firstData);
  if (failed !== undefined || first !== "chunk") {
    deadline.stop();
    options.abort();
    void reader.cancel().catch(() => {});
    throw new StreamStartFailure(
      failed === "upstream_timeout"
        ? "stalled"
        : failed !== undefined
          ? "broken"
          : first === undefined
            ? "empty"
            : first === "error"
              ? "error_event"
              : "unreadable",
    );
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Read until at least one whole event is ready, so each pull forwards something.
      const error = await fill();
      if (error !== undefined) return end(controller, error);
      if (pending.length > 0) controller.enqueue(encoder.encode(pending.join("")));
      pending = [];
      if (upstreamDone) end(controller, undefined);
    },
    cancel() {
      deadline.stop();
      options.abort();
      void reader.cancel().catch(() => {});
      outcome.truncated = !(sawDone || sawFinish);
      outcome.error = outcome.truncated ? "client_disconnected" : undefined;
      settle(outcome);
    },
  });
  return { body, outcome: finished };
}

/** An event that may carry the provider's error (`{"error": …}`, Anthropic's `{"type":"error","error": …}`). */
const ERROR_FIELD = /"error"\s*:/;

/**
 * An error event with its message cleaned as an error answer's is (`sanitizeProviderMessage`):
 * after the first event the relay passes events on as they came, and a provider's words in an
 * error (a key it was sent, a path) must not reach the client. Other events are left whole.
 */
function withoutSecrets(data: string, secrets: readonly string[]): string {
  let parsed: { error?: { message?: unknown } | string };
  try {
    parsed = JSON.parse(data) as typeof parsed;
  } catch {
    return redactSecrets(data, secrets);
  }
  const error = parsed.error;
  if (typeof error === "string") return JSON.stringify({ ...parsed, error: sanitizeProviderMessage(error, secrets) });
  if (typeof error?.message !== "string") return data;
  return JSON.stringify({ ...parsed, error: { ...error, message: sanitizeProviderMessage(error.message, secrets) } });
}

function serialize(event: EventSourceMessage): string {
  const name = event.event === undefined ? "" : `event: ${event.event}\n`;
  return `${name}data: ${event.data.split("\n").join("\ndata: ")}\n\n`;
}

const errorMessage = (code: NonNullable<StreamOutcome["error"]>): string =>
  code === "upstream_timeout" ? "The provider stalled mid-stream; the answer is incomplete" : "The provider's stream broke off; the answer is incomplete";

/** OpenAI's in-stream error shape, which the official SDKs raise as an APIError. */
function errorEvent(code: NonNullable<StreamOutcome["error"]>): string {
  return `data: ${JSON.stringify({ error: { message: errorMessage(code), type: "upstream_error", param: null, code } })}\n\n`;
}
