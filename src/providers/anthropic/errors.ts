/**
 * Anthropic's error body, `{"type":"error","error":{"type","message"}}`, read for what the
 * router makes of it (providers/upstream.ts `upstreamError`): a prompt too long for the
 * model is the client's; a refused key the provider's; 429 `rate_limit_error` and 529
 * `overloaded_error` are Anthropic's own load.
 */
import type { ProviderErrorKind } from "../adapter.ts";

type ErrorBody = { type?: unknown; error?: { type?: unknown; message?: unknown }; message?: unknown };

function parse(body: string): ErrorBody {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? (parsed as ErrorBody) : {};
  } catch {
    return {};
  }
}

/**
 * The account cannot take the call, whatever the request: its credit is spent (a 400
 * `invalid_request_error` "Your credit balance is too low…"), or the model is not one it
 * may use (404 `not_found_error`: the router names the model, not the client).
 */
const ACCOUNT = /credit balance is too low|billing/i;

/** Anthropic's words for a prompt past the context window (`prompt is too long: 210000 tokens > 200000 maximum`). */
const TOO_LONG = /prompt is too long|input length and `max_tokens` exceed context limit|exceeds? the context window/i;

export function anthropicErrorKind(status: number, body: string): ProviderErrorKind | undefined {
  const error = parse(body).error;
  const type = typeof error?.type === "string" ? error.type : undefined;
  const message = typeof error?.message === "string" ? error.message : "";
  if ((type === "invalid_request_error" || status === 400 || status === 413) && TOO_LONG.test(message)) return "context_too_long";
  if (type === "authentication_error" || type === "permission_error" || status === 401 || status === 403) return "auth_failed";
  if (type === "billing_error" || type === "not_found_error" || status === 404 || ACCOUNT.test(message)) return "auth_failed";
  if (type === "rate_limit_error" || status === 429) return "rate_limited";
  if (type === "overloaded_error" || status === 529) return "overloaded";
  return undefined;
}

/** The provider's own words, or the body as it came when it is not Anthropic's error. */
export function anthropicErrorMessage(body: string): string {
  const parsed = parse(body);
  const message = parsed.error?.message ?? parsed.message;
  return typeof message === "string" ? message : body;
}
