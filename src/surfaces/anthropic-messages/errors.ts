/**
 * Anthropic's error body, `{type: "error", error: {type, message}}`, with its types and
 * status codes, so the Anthropic SDKs raise their own typed errors (an overloaded
 * router, every model's circuit open, is 529 `overloaded_error`, which they retry).
 */
import type { ApiError, ErrorStatus } from "../../http/errors.ts";

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

export type AnthropicErrorBody = { type: "error"; error: { type: AnthropicErrorType; message: string } };

/** 503 (no healthy model, a store that cannot answer) is Anthropic's 529; every other status stays. */
export function anthropicStatus(error: ApiError): ErrorStatus {
  return error.status === 503 ? (529 as ErrorStatus) : error.status;
}

export function anthropicErrorType(status: number): AnthropicErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 503 || status === 529) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

export function anthropicErrorBody(error: ApiError): AnthropicErrorBody {
  return { type: "error", error: { type: anthropicErrorType(error.status), message: error.message } };
}
