/**
 * The API-surface seam: a surface reads its own wire format into the canonical
 * request and renders canonical answers and errors back in its format. Routing, the
 * cache, limits, budgets and the audit see only the canonical side (src/engine).
 */

import type { NativeRequest } from "../canonical/native.ts";
import type { CanonicalRequest } from "../canonical/request.ts";
import type { Answer } from "../engine/outcome.ts";
import type { ApiError, ErrorStatus } from "../http/errors.ts";

/**
 * The canonical request, what of the client's request was dropped (named in
 * `x-tiergate-dropped`), and what the surface's answer repeats of its request (the
 * Responses object echoes its parameters and carries its id).
 */
export type Parsed = {
  request: CanonicalRequest;
  dropped: string[];
  echo?: Readonly<Record<string, unknown>>;
  /** The id the answer is stored under, when the surface stores it (Responses' `store`). */
  storedAs?: string;
  /** The request as the surface read it, for a provider that speaks its format (Messages to Anthropic). */
  native?: NativeRequest;
  /** What is dropped even when `native` goes as it was sent: the router's own bounds (a `max_tokens` capped). */
  nativeDropped?: string[];
};

/** What bounds a request as it is read: its body's size, and (Messages) the `max_tokens` taken. */
export type ParseLimits = { maxBodyBytes: number; messagesMaxTokens: number };

/** The content types of a surface's answers: its JSON, and its event stream. */
export const JSON_HEADERS = { "content-type": "application/json" };
export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

export type Rendered = { body: ReadableStream<Uint8Array> | string; contentType: Record<string, string> };

export type Surface = {
  /** Reads and validates the wire body into the canonical request (4xx in the surface's own error format when it cannot). */
  parse(request: Request, limits: ParseLimits): Promise<Parsed>;
  /** The answer in the surface's format (after what the surface keeps of a JSON answer is kept). */
  render(answer: Answer, parsed: Parsed): Rendered | Promise<Rendered>;
  /** The surface's error body for an error of the router. */
  errorBody(error: ApiError): unknown;
  /** The status the surface answers an error with. */
  errorStatus(error: ApiError): ErrorStatus;
};
