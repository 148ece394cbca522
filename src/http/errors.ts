/** The one error type of the router: thrown anywhere, rendered in the surface's own format by `renderError`. */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** 499: the client went away before the answer (nginx's "client closed request"); recorded, never sent. */
export type ErrorStatus = ContentfulStatusCode | 499;

export type ErrorType = "invalid_request_error" | "authentication_error" | "rate_limit_error" | "insufficient_quota" | "server_error" | "upstream_error";

type ApiErrorOptions = {
  type?: ErrorType;
  code?: string;
  param?: string;
  headers?: Record<string, string>;
  cause?: unknown;
  /** What the audit record says, when it says more than the client's `code` (the reason a key was refused). */
  auditCode?: string;
};

/**
 * Thrown anywhere; the app's `onError` turns it into the response.
 * @example throw new ApiError(413, "Request body exceeds 4194304 bytes", { code: "body_too_large" })
 */
export class ApiError extends Error {
  readonly status: ErrorStatus;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly auditCode: string | null;

  constructor(status: ErrorStatus, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.type = options.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.auditCode = options.auditCode ?? this.code;
  }
}

/** Renders a zod failure as a 400 naming the first offending field, e.g. `messages[0].role`. */
export function invalidRequest(error: z.ZodError, root?: string): ApiError {
  const first = error.issues[0];
  if (first === undefined) return new ApiError(400, "Invalid request body", { code: "invalid_value" });
  const { issue, path } = mostSpecific(first, first.path);
  const param = formatPath(root === undefined ? path : [root, ...path]);
  const where = param === "" ? "Request body" : `'${param}'`;
  const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
  const message = missing ? "is required" : issue.message;
  return new ApiError(400, `${where}: ${message}`, {
    code: issue.code === "invalid_type" ? "invalid_type" : "invalid_value",
    ...(param === "" ? {} : { param }),
  });
}

type Issue = z.core.$ZodIssue;

/** A union's bare "Invalid input" says little: report the branch that got furthest into the value. */
function mostSpecific(issue: Issue, path: readonly PropertyKey[]): { issue: Issue; path: readonly PropertyKey[] } {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return { issue, path };
  const branches = issue.errors.map((branch) => branch[0]).filter((b): b is Issue => b !== undefined);
  const deepest = branches.reduce((best, b) => (b.path.length > best.path.length ? b : best), branches[0]!);
  if (deepest.path.length > 0) return mostSpecific(deepest, [...path, ...deepest.path]);
  const expected = branches.map((b) => (b.code === "invalid_type" ? b.expected : b.message)).join(" or ");
  return { issue: { ...issue, message: `expected ${expected}` }, path };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The router's error for anything thrown: an ApiError as it is, anything else a 500 that keeps it as its cause. */
export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(500, "Internal error in the router", { code: "internal_error", cause: error });
}
