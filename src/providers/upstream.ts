/** One call to a provider, through its adapter: the timeout, the client's hang-up, and every failure as the router's error. */

import type { NativeRequest } from "../canonical/native.ts";
import type { CanonicalRequest } from "../canonical/request.ts";
import type { Provider } from "../config/providers.ts";
import { ApiError } from "../http/errors.ts";
import type { RawStrings } from "../http/raw-strings.ts";
import { sanitizeProviderMessage } from "../security/redact.ts";
import type { AnswerReaders, ProviderAdapter } from "./adapter.ts";
import { adapterFor, passesThrough } from "./adapters.ts";
import { relaySse, type StreamOutcome, StreamStartFailure } from "./sse-relay.ts";
import type { Usage } from "./usage.ts";

export type UpstreamRequest = {
  provider: Provider;
  /** The canonical request, mapped to the provider's body by its adapter. */
  request: CanonicalRequest;
  /** The provider's own id of the model. */
  upstreamModel: string;
  stream: boolean;
  /** Whether the client itself asked for the usage chunk (`stream_options.include_usage`). */
  clientWantsUsage: boolean;
  /** Longest wait for the answer's headers, for a whole JSON answer, and between stream chunks. */
  timeoutMs: number;
  /** Every configured secret: none may reach the client through a provider's error text. */
  secrets: readonly string[];
  /** The client's own request signal: when the client goes, the provider call stops. */
  clientSignal?: AbortSignal | undefined;
  /** Sees every streamed `data:` payload but `[DONE]` (the cache assembles the answer from them). */
  onData?: (data: string) => void;
  /** The session's digest (routing/session.ts), for the adapter to send as the provider's cache key. */
  sessionKey?: string | undefined;
  /** The client's request as its surface read it: sent as it is to a provider that speaks its format (adapter.ts `PassThrough`). */
  native?: NativeRequest | undefined;
  /** The request's long strings as the client's bytes, sent as they are (http/raw-strings.ts); released once the body is made. */
  raw?: RawStrings | undefined;
};

/** `sentChars`: the length of the body sent, a bound on the prompt a provider can honestly count. */
export type UpstreamAnswer = {
  sentChars: number;
  /** The answer is in the client's own format, as the provider sent it (a pass-through), not OpenAI's chat completion. */
  native: boolean;
} /** `complete`: every choice has a finish reason, so the answer may be cached; `outputChars`: what the model wrote. */ & (
  | { stream: false; text: string; usage: Usage | undefined; complete: boolean; outputChars: number }
  | { stream: true; body: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> }
);

/** Upstream statuses the client caused (a too-long context, an unknown parameter): passed back as they are. */
const CLIENT_CAUSED = new Set([400, 404, 413, 422]);

/**
 * Calls the provider's completion endpoint. Failure policy: nothing is retried here;
 * a refused connection or a bad answer is a 502, a timeout a 504, a provider 429 a 429,
 * a client-caused 400/404/413/422 goes back as it is, with the provider's message sanitised.
 */
export async function callUpstream(request: UpstreamRequest): Promise<UpstreamAnswer> {
  const { provider, timeoutMs, clientSignal } = request;
  const adapter = adapterFor(provider);
  const { controller, stopTimer, release } = callSignal(timeoutMs, clientSignal);
  // A request in the format the provider speaks goes through untranslated, and its answer comes back so.
  const passThrough = passesThrough(provider, request.native) ? adapter.passThrough : undefined;
  try {
    const { response, sentChars } = await send(adapter, request, controller.signal, passThrough !== undefined);
    if (!response.ok) throw await upstreamError(request, adapter, response);
    const readers = passThrough?.readers() ?? adapter;
    const native = passThrough !== undefined;
    if (request.stream && response.body !== null) {
      stopTimer();
      return {
        stream: true,
        sentChars,
        native,
        ...(await relaySse(passThrough ? passThrough.stream(response.body) : adapter.chatStream(response.body, request.upstreamModel), {
          adapter: readers,
          idleTimeoutMs: timeoutMs,
          clientWantsUsage: request.clientWantsUsage,
          abort: () => controller.abort(),
          secrets: request.secrets,
          ...(request.onData ? { onData: request.onData } : {}),
          ...(passThrough === undefined ? {} : { errorEvent: passThrough.errorEvent }),
        })),
      };
    }
    const raw = await response.text();
    const text = native ? raw : adapter.chatAnswer(raw, request.upstreamModel);
    return { stream: false, text, sentChars, native, ...readCompletion(request, adapter, text, readers) };
  } catch (error) {
    if (error instanceof StreamStartFailure && !clientSignal?.aborted) throw streamStartError(provider.id, error, timeoutMs);
    throw callFailure(error, { provider, timeoutMs, clientSignal, timedOut: controller.signal });
  } finally {
    // A stream keeps the client's hang-up in view: the relay stops the provider's stream with it.
    if (request.stream) stopTimer();
    else release();
  }
}

const encoder = new TextEncoder();

/**
 * Sends the call (the client's own request, when it `passThrough`s), its body as UTF-8 bytes; `sentChars` is the body's length
 * as text (a spliced body's too). While the
 * provider works (seconds, for an agent's turn) no frame of the router holds the body in
 * any form, so the isolate keeps none of it: not its JSON text (twice the bytes, in UTF-16,
 * where the prompt has a character past Latin-1), the mapped body object, nor the bytes,
 * which are fetch's alone once handed over (hence promise chains, not `await`, whose
 * suspended frame would keep them).
 */
function send(
  adapter: ProviderAdapter,
  request: UpstreamRequest,
  signal: AbortSignal,
  passThrough: boolean,
): Promise<{ response: Response; sentChars: number }> {
  const body = adapter.body(request.request, request.upstreamModel, {
    stream: request.stream,
    ...(request.sessionKey === undefined ? {} : { sessionKey: request.sessionKey }),
    ...(passThrough && request.native !== undefined ? { native: request.native } : {}),
  });
  return Promise.resolve(adapter.completionRequest(request.provider, body, request.stream, request.raw)).then((call) => {
    // The body is made: the client's bytes go (a fallback's body is serialised in full).
    request.raw?.release();
    const sentChars = typeof call.body === "string" ? call.body.length : call.body.chars;
    const bytes = typeof call.body === "string" ? encoder.encode(call.body) : call.body.bytes;
    return fetch(call.url, { method: "POST", headers: call.headers, body: bytes, signal }).then((response) => ({ response, sentChars }));
  });
}

/**
 * A provider call's abort: its own timeout, and the client's hang-up. `stopTimer` once the
 * answer has begun (a stream's chunks have their own idle timeout); `release` when the call is over.
 */
export function callSignal(timeoutMs: number, clientSignal: AbortSignal | undefined) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const clientLeft = (): void => controller.abort();
  clientSignal?.addEventListener("abort", clientLeft);
  return {
    controller,
    stopTimer: (): void => clearTimeout(timer),
    release: (): void => {
      clearTimeout(timer);
      clientSignal?.removeEventListener("abort", clientLeft);
    },
  };
}

/**
 * What a failed call is to the client: the router's own error as it is, the client's
 * hang-up a 499, the call's own timeout a 504, anything else (a refused connection) a 502.
 */
export function callFailure(
  error: unknown,
  call: { provider: Provider; timeoutMs: number; clientSignal: AbortSignal | undefined; timedOut: AbortSignal },
): ApiError {
  const { provider, timeoutMs } = call;
  if (error instanceof ApiError) return error;
  if (call.clientSignal?.aborted) return new ApiError(499, "The client closed the connection before the answer", { code: "client_disconnected" });
  if (call.timedOut.aborted) {
    return new ApiError(504, `Provider ${provider.id} did not answer within ${timeoutMs} ms`, { type: "upstream_error", code: "upstream_timeout" });
  }
  return new ApiError(502, `Provider ${provider.id} could not be reached`, { type: "upstream_error", code: "upstream_unreachable" });
}

function streamStartError(provider: string, failure: StreamStartFailure, timeoutMs: number): ApiError {
  if (failure.reason === "stalled") {
    return new ApiError(504, `Provider ${provider} sent no stream event within ${timeoutMs} ms`, { type: "upstream_error", code: "upstream_timeout" });
  }
  const what = {
    broken: "broke off before its first event",
    empty: "ended without an event",
    unreadable: "began with an event that is not a completion chunk",
    error_event: "began with an error event",
  }[failure.reason];
  return new ApiError(502, `Provider ${provider}'s stream ${what}`, { type: "upstream_error", code: "upstream_bad_response" });
}

/** A provider's error answer as the router's error (see `callUpstream` for the policy, `ProviderErrorKind` for what an adapter reads). */
export async function upstreamError(request: Pick<UpstreamRequest, "provider" | "secrets">, adapter: ProviderAdapter, response: Response): Promise<ApiError> {
  const { provider } = request;
  const text = await response.text().catch(() => "");
  const said = describeProviderError(adapter, text, request.secrets);
  const status = response.status;
  const kind = adapter.errorKind?.(status, text, response.headers, provider);
  // A rate limit's wait: the provider's header, else what its body says (Google's RetryInfo); honoured by the retries
  // (attempts.ts). An overloaded provider's is not: its family at another provider is tried at once instead.
  const retryAfter = response.headers.get("retry-after") ?? adapter.retryAfter?.(text);
  const waitHeaders = retryAfter == null ? {} : { headers: { "retry-after": retryAfter } };
  if (kind === "context_too_long") {
    return new ApiError(400, `Provider ${provider.id} refused the request: the prompt is too long for the model${said}`, {
      code: "context_length_exceeded",
    });
  }
  if (kind === "content_filtered") {
    return new ApiError(400, `Provider ${provider.id} refused the request by its content filter${said}`, { code: "content_filtered" });
  }
  if (kind === "auth_failed") {
    const whose = provider.credentialOwner === undefined ? "the router's credential" : "the tenant's own credential";
    return new ApiError(502, `Provider ${provider.id} refused ${whose} or its account (${status})${said}`, {
      type: "upstream_error",
      code: "upstream_auth_failed",
    });
  }
  if (kind === "overloaded") {
    return new ApiError(503, `Provider ${provider.id} is overloaded${said}`, { type: "upstream_error", code: "upstream_overloaded" });
  }
  if (CLIENT_CAUSED.has(status) && kind === undefined) {
    return new ApiError(status as 400 | 404 | 413 | 422, `Provider ${provider.id} refused the request${said}`, {
      code: "upstream_invalid_request",
    });
  }
  if (status === 429 || kind === "rate_limited") {
    return new ApiError(429, `Provider ${provider.id} is rate limiting the router${said}`, {
      type: "rate_limit_error",
      code: "upstream_rate_limited",
      ...waitHeaders,
    });
  }
  if (status === 408 || status === 504) {
    return new ApiError(504, `Provider ${provider.id} timed out${said}`, { type: "upstream_error", code: "upstream_timeout" });
  }
  return new ApiError(502, `Provider ${provider.id} answered ${status}${said}`, {
    type: "upstream_error",
    code: "upstream_error",
  });
}

/** ": <the provider's own message, sanitised>", or "" when it said nothing usable. */
export function describeProviderError(adapter: ProviderAdapter, body: string, secrets: readonly string[]): string {
  const clean = sanitizeProviderMessage(adapter.errorMessage(body), secrets);
  return clean === "" ? "" : `: ${clean}`;
}

/** Usage and completeness of a JSON answer; a 200 that carries an error or no choices is a bad answer (502). */
function readCompletion(
  request: UpstreamRequest,
  adapter: ProviderAdapter,
  text: string,
  readers: AnswerReaders,
): { usage: Usage | undefined; complete: boolean; outputChars: number } {
  const { provider } = request;
  const read = readers.readCompletion(text);
  if (!("failure" in read)) return read;
  if (read.failure === "error") {
    throw new ApiError(502, `Provider ${provider.id} answered 200 with an error${describeProviderError(adapter, text, request.secrets)}`, {
      type: "upstream_error",
      code: "upstream_error",
    });
  }
  const what = { not_json: "with a body that is not JSON", no_choices: "without choices", bad_tool_calls: "with tool calls that are not a list of functions" }[
    read.failure
  ];
  throw new ApiError(502, `Provider ${provider.id} answered ${what}`, { type: "upstream_error", code: "upstream_bad_response" });
}
