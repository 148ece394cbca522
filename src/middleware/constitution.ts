/** The constitutional-hash rule: a request that names another policy version is refused. */
import type { MiddlewareHandler } from "hono";
import { CONSTITUTIONAL_HASH, CONSTITUTIONAL_HASH_HEADER } from "../config/constitution.ts";
import { ApiError } from "../http/errors.ts";
import { redactSecrets } from "../security/redact.ts";
import type { With } from "./edge.ts";

/** Refuses (409) a request whose `x-constitutional-hash` names any hash but the pinned one. */
export function constitutionCheck(): MiddlewareHandler<With> {
  return async function constitutionCheckMiddleware(c, next) {
    const named = c.req.header(CONSTITUTIONAL_HASH_HEADER);
    // A header sent twice arrives joined by ", ": repeating the pinned hash is not naming another.
    if (named?.split(",").some((value) => value.trim() !== CONSTITUTIONAL_HASH)) {
      throw new ApiError(
        409,
        `This router enforces constitutional hash ${CONSTITUTIONAL_HASH}; the request names '${redactSecrets(named.slice(0, 64), c.get("config").secrets)}'`,
        {
          code: "constitutional_hash_mismatch",
          param: CONSTITUTIONAL_HASH_HEADER,
        },
      );
    }
    await next();
  };
}
