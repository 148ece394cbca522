/** The one place an error becomes a response; the audit record learns its code here. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../http/app-env.ts";
import type { ApiError } from "./errors.ts";

export function renderError(error: ApiError, c: Context<AppEnv>): Response {
  const draft = c.get("audit");
  if (draft !== undefined) draft.errorCode = error.auditCode;
  return c.json(error.toBody(), error.status as ContentfulStatusCode, error.headers);
}
