/**
 * What Google's errors (`{"error":{"code","message","status","details"}}`, AI Studio's and
 * Vertex's alike) mean to the router where the status alone does not say: a prompt over the
 * model's window is a 400 INVALID_ARGUMENT whose message says so; a bad API key is a 400
 * INVALID_ARGUMENT too, with reason API_KEY_INVALID, and is the router's credential, not the
 * client's mistake; 401/403 are the credential; 429 RESOURCE_EXHAUSTED a rate limit; 503
 * UNAVAILABLE an overload. A 500 INTERNAL is left to its status (a 502, the next model tried).
 */
import type { ProviderErrorKind } from "../adapter.ts";

type GoogleError = { code?: unknown; message?: unknown; status?: unknown; details?: unknown };

/** Google's words for a prompt longer than the model takes ("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."). */
const TOO_LONG = /exceeds the maximum number of tokens|input token count|input context is too long|prompt is too long/i;

export function googleErrorKind(status: number, body: string): ProviderErrorKind | undefined {
  const error = googleError(body);
  const reasons = Array.isArray(error.details) ? error.details.map((detail) => (detail as { reason?: unknown } | null)?.reason) : [];
  if (status === 401 || status === 403 || error.status === "UNAUTHENTICATED" || error.status === "PERMISSION_DENIED") return "auth_failed";
  if (reasons.includes("API_KEY_INVALID")) return "auth_failed";
  if (status === 429 || error.status === "RESOURCE_EXHAUSTED") return "rate_limited";
  if (status === 503 || error.status === "UNAVAILABLE") return "overloaded";
  if (status === 400 && typeof error.message === "string" && TOO_LONG.test(error.message)) return "context_too_long";
  return undefined;
}

/**
 * Google's wait before another try, in whole seconds (rounded up), from the error's
 * `google.rpc.RetryInfo` detail (`"retryDelay": "12.3s"`): Google sends no Retry-After header.
 * @example googleRetryAfter('{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12.3s"}]}}') // "13"
 */
export function googleRetryAfter(body: string): string | undefined {
  const { details } = googleError(body);
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
    const seconds = typeof delay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1] : undefined;
    if (seconds !== undefined) return String(Math.ceil(Number(seconds)));
  }
  return undefined;
}

function googleError(body: string): GoogleError {
  try {
    const parsed = JSON.parse(body) as { error?: unknown } | unknown[];
    // Vertex's stream endpoints answer an error as a one-element array.
    const outer = Array.isArray(parsed) ? parsed[0] : parsed;
    const error = (outer as { error?: unknown } | null)?.error;
    return typeof error === "object" && error !== null ? (error as GoogleError) : {};
  } catch {
    return {};
  }
}

/** An error body as its reader takes it: Vertex's streams answer an error in a one-element array, whose element is the error. */
export function unwrapErrorArray(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (Array.isArray(parsed)) return JSON.stringify(parsed[0] ?? {});
  } catch {
    // not JSON: as it came
  }
  return body;
}
