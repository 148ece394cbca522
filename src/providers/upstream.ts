/** The one OpenAI-compatible provider adapter: OpenRouter, Groq and any custom base URL. */
import type { Provider } from "../config/env.ts";
import { ApiError } from "../openai/errors.ts";
import { sanitizeProviderMessage } from "../security/redact.ts";
import { relaySse, type StreamOutcome, StreamStartFailure } from "./sse-relay.ts";
import { readUsage, type Usage } from "./usage.ts";

export type UpstreamRequest = {
  provider: Provider;
  /** The OpenAI chat body to send, with the provider's own model id already in it. */
  body: Record<string, unknown>;
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
};

export type UpstreamAnswer =
  /** `complete`: every choice has a finish reason, so the answer may be cached. */
  | { stream: false; text: string; usage: Usage | undefined; complete: boolean }
  | { stream: true; body: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> };

/** Upstream statuses the client caused (a too-long context, an unknown parameter): passed back as they are. */
const CLIENT_CAUSED = new Set([400, 404, 413, 422]);

/**
 * Calls `POST {baseUrl}/chat/completions`. Failure policy: nothing is retried here;
 * a refused connection or a bad answer is a 502, a timeout a 504, a provider 429 a 429,
 * a client-caused 400/404/413/422 goes back as it is, with the provider's message sanitised.
 */
export async function callUpstream(request: UpstreamRequest): Promise<UpstreamAnswer> {
  const { provider, timeoutMs, clientSignal } = request;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const clientLeft = (): void => controller.abort();
  clientSignal?.addEventListener("abort", clientLeft);
  try {
    const response = await send(request, controller.signal);
    if (!response.ok) throw await upstreamError(request, response);
    if (request.stream && response.body !== null) {
      clearTimeout(timer);
      return {
        stream: true,
        ...(await relaySse(response.body, {
          idleTimeoutMs: timeoutMs,
          clientWantsUsage: request.clientWantsUsage,
          abort: () => controller.abort(),
          ...(request.onData ? { onData: request.onData } : {}),
        })),
      };
    }
    const text = await response.text();
    return { stream: false, text, ...readCompletion(request, text) };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (clientSignal?.aborted) {
      throw new ApiError(499, "The client closed the connection before the answer", { code: "client_disconnected" });
    }
    if (error instanceof StreamStartFailure) throw streamStartError(provider.id, error, timeoutMs);
    if (controller.signal.aborted) {
      throw new ApiError(504, `Provider ${provider.id} did not answer within ${timeoutMs} ms`, {
        type: "upstream_error",
        code: "upstream_timeout",
      });
    }
    throw new ApiError(502, `Provider ${provider.id} could not be reached`, {
      type: "upstream_error",
      code: "upstream_unreachable",
    });
  } finally {
    clearTimeout(timer);
    if (!request.stream) clientSignal?.removeEventListener("abort", clientLeft);
  }
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

function send(request: UpstreamRequest, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: request.stream ? "text/event-stream" : "application/json",
  };
  if (request.provider.apiKey !== undefined) headers.authorization = `Bearer ${request.provider.apiKey}`;
  const url = `${request.provider.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  return fetch(url, { method: "POST", headers, body: JSON.stringify(request.body), signal });
}

async function upstreamError(request: UpstreamRequest, response: Response): Promise<ApiError> {
  const { provider } = request;
  const said = describeProviderError(await response.text().catch(() => ""), request.secrets);
  const status = response.status;
  if (CLIENT_CAUSED.has(status)) {
    return new ApiError(status as 400 | 404 | 413 | 422, `Provider ${provider.id} refused the request${said}`, {
      code: "upstream_invalid_request",
    });
  }
  if (status === 429) {
    const retryAfter = response.headers.get("retry-after");
    return new ApiError(429, `Provider ${provider.id} is rate limiting the router${said}`, {
      type: "rate_limit_error",
      code: "upstream_rate_limited",
      ...(retryAfter === null ? {} : { headers: { "retry-after": retryAfter } }),
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
function describeProviderError(body: string, secrets: readonly string[]): string {
  let message = body;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const inner = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof inner === "string") message = inner;
  } catch {
    // not JSON: the raw text, sanitised
  }
  const clean = sanitizeProviderMessage(message, secrets);
  return clean === "" ? "" : `: ${clean}`;
}

type Completion = { choices?: unknown; usage?: unknown; error?: unknown };

/** Usage and completeness of a JSON answer; a 200 that carries an error or no choices is a bad answer (502). */
function readCompletion(request: UpstreamRequest, text: string): { usage: Usage | undefined; complete: boolean } {
  const { provider } = request;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(502, `Provider ${provider.id} answered with a body that is not JSON`, {
      type: "upstream_error",
      code: "upstream_bad_response",
    });
  }
  const completion = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Completion;
  if (completion.error !== undefined && completion.error !== null) {
    throw new ApiError(502, `Provider ${provider.id} answered 200 with an error${describeProviderError(text, request.secrets)}`, {
      type: "upstream_error",
      code: "upstream_error",
    });
  }
  if (!Array.isArray(completion.choices) || completion.choices.length === 0) {
    throw new ApiError(502, `Provider ${provider.id} answered without choices`, {
      type: "upstream_error",
      code: "upstream_bad_response",
    });
  }
  const complete = completion.choices.every(
    (choice) => typeof choice === "object" && choice !== null && typeof (choice as { finish_reason?: unknown }).finish_reason === "string",
  );
  return { usage: readUsage(completion.usage), complete };
}
