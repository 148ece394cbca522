/** Edge checks every request crosses first: request id, the constitutional hash, security headers. */
import type { MiddlewareHandler } from "hono";
import { CONSTITUTIONAL_HASH, CONSTITUTIONAL_HASH_HEADER } from "../config/constitution.ts";
import { ApiError } from "../openai/errors.ts";
import type { AppEnv } from "./app-env.ts";

/**
 * Stamps every response, errors included, with the pinned constitutional hash and a
 * request id, and refuses (409) a request that names another hash.
 */
export function constitution(): MiddlewareHandler<AppEnv> {
  return async function constitutionMiddleware(c, next) {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.header(CONSTITUTIONAL_HASH_HEADER, CONSTITUTIONAL_HASH);
    c.header("x-request-id", requestId);
    c.header("x-content-type-options", "nosniff");
    const named = c.req.header(CONSTITUTIONAL_HASH_HEADER);
    if (named !== undefined && named.trim() !== CONSTITUTIONAL_HASH) {
      throw new ApiError(409, `This router enforces constitutional hash ${CONSTITUTIONAL_HASH}; the request names '${named.slice(0, 64)}'`, {
        code: "constitutional_hash_mismatch",
        param: CONSTITUTIONAL_HASH_HEADER,
      });
    }
    await next();
  };
}
