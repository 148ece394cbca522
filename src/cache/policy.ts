/**
 * What a request lets the cache do. `Cache-Control: no-cache` or `max-age=0` skips the
 * read, `no-store` the write. `x-tiergate-cache-ttl` may shorten the TTL for anyone;
 * only a trusted caller (the admin key) may lengthen it, up to `CACHE_MAX_TTL_SECONDS`.
 */
import { ApiError } from "../http/errors.ts";

export type CachePolicy = { read: boolean; write: boolean; ttlSeconds: number };

/** What the cache did for a request: answered it, was asked and missed, or was not asked. */
export type CacheStatus = "HIT" | "MISS" | "BYPASS";

export const CACHE_TTL_HEADER = "x-tiergate-cache-ttl";

export function cachePolicy(headers: Headers, settings: { ttlSeconds: number; maxTtlSeconds: number }, trusted: boolean): CachePolicy {
  const directives = (headers.get("cache-control") ?? "")
    .toLowerCase()
    .split(",")
    .map((d) => d.trim().replace(/\s*=\s*/, "="));
  const ttlText = headers.get(CACHE_TTL_HEADER);
  let ttlSeconds = settings.ttlSeconds;
  if (ttlText !== null) {
    const limit = trusted ? settings.maxTtlSeconds : settings.ttlSeconds;
    ttlSeconds = Number(ttlText);
    if (!/^\d+$/.test(ttlText.trim()) || ttlSeconds < 1 || ttlSeconds > settings.maxTtlSeconds) {
      throw new ApiError(400, `${CACHE_TTL_HEADER} must be a whole number of seconds from 1 to ${limit}`, {
        code: "invalid_value",
        param: CACHE_TTL_HEADER,
      });
    }
    if (ttlSeconds > limit) {
      throw new ApiError(403, `${CACHE_TTL_HEADER} above the default ${limit} s needs the admin key`, {
        type: "authentication_error",
        code: "cache_ttl_not_allowed",
        param: CACHE_TTL_HEADER,
      });
    }
  }
  const noRead = directives.includes("no-cache") || directives.includes("max-age=0");
  return { read: !noRead, write: !directives.includes("no-store"), ttlSeconds };
}
