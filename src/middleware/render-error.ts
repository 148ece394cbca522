/** The one place an error becomes a response: in the body format of the request's surface, with the error's status and headers. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiError } from "../http/errors.ts";
import { surfaceFor } from "../surfaces/index.ts";

export function renderError(error: ApiError, c: Context): Response {
  const surface = surfaceFor(c.req.path);
  return c.json(surface.errorBody(error), surface.errorStatus(error) as ContentfulStatusCode, error.headers);
}
