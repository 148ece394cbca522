/** The one OpenAI-compatible provider adapter: OpenRouter, Groq and any custom base URL. */
import type { Provider } from "../config/env.ts";
import { ApiError } from "../openai/errors.ts";
import { redactSecrets } from "../security/redact.ts";
import { relaySse, type StreamOutcome } from "./sse-relay.ts";
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
  /** Sees every streamed `data:` payload but `[DONE]` (the cache assembles the answer from them). */
  onData?: (data: string) => void;
};

export type UpstreamAnswer =
  | { stream: false; text: string; usage: Usage | undefined }
  | { stream: true; body: ReadableStream<Uint8Array>; outcome: Promise<StreamOutcome> };

/**
 * Calls `POST {baseUrl}/chat/completions`. Failure policy: nothing is retried here;
 * a refused connection or a bad answer is a 502, a timeout a 504, a provider 429 a 429.
 */
export async function callUpstream(request: UpstreamRequest): Promise<UpstreamAnswer> {
  const { provider, timeoutMs } = request;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await send(request, controller.signal);
    if (!response.ok) throw await upstreamError(provider, response);
    if (request.stream && response.body !== null) {
      clearTimeout(timer);
      return {
        stream: true,
        ...relaySse(response.body, {
          idleTimeoutMs: timeoutMs,
          clientWantsUsage: request.clientWantsUsage,
          abort: () => controller.abort(),
          ...(request.onData ? { onData: request.onData } : {}),
        }),
      };
    }
    const text = await response.text();
    return { stream: false, text, usage: usageOfCompletion(provider, text) };
  } catch (error) {
    if (error instanceof ApiError) throw error;
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
  }
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

async function upstreamError(provider: Provider, response: Response): Promise<ApiError> {
  const detail = redactSecrets(messageOf(await response.text().catch(() => "")), [provider.apiKey]);
  const said = detail === "" ? "" : `: ${detail}`;
  if (response.status === 429) {
    const retryAfter = response.headers.get("retry-after");
    return new ApiError(429, `Provider ${provider.id} is rate limiting the router${said}`, {
      type: "rate_limit_error",
      code: "upstream_rate_limited",
      ...(retryAfter === null ? {} : { headers: { "retry-after": retryAfter } }),
    });
  }
  if (response.status === 408 || response.status === 504) {
    return new ApiError(504, `Provider ${provider.id} timed out${said}`, { type: "upstream_error", code: "upstream_timeout" });
  }
  return new ApiError(502, `Provider ${provider.id} answered ${response.status}${said}`, {
    type: "upstream_error",
    code: "upstream_error",
  });
}

/** The provider's own error message, if its body is OpenAI-shaped; else a short prefix of the body. */
function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === "string") return parsed.error.message.slice(0, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 200).trim();
}

function usageOfCompletion(provider: Provider, text: string): Usage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(502, `Provider ${provider.id} answered with a body that is not JSON`, {
      type: "upstream_error",
      code: "upstream_bad_response",
    });
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { choices?: unknown }).choices)) {
    throw new ApiError(502, `Provider ${provider.id} answered without choices`, {
      type: "upstream_error",
      code: "upstream_bad_response",
    });
  }
  return readUsage((parsed as { usage?: unknown }).usage);
}
