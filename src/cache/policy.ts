/** What a request lets the cache do: `Cache-Control: no-cache` skips the read, `no-store` the write. */
import type { Config } from "../config/env.ts";
import { ApiError } from "../openai/errors.ts";

export type CachePolicy = { read: boolean; write: boolean; ttlSeconds: number };

export const CACHE_TTL_HEADER = "x-tiergate-cache-ttl";

export function cachePolicy(headers: Headers, config: Config): CachePolicy {
  const directives = (headers.get("cache-control") ?? "").toLowerCase().split(",").map((d) => d.trim());
  const ttlText = headers.get(CACHE_TTL_HEADER);
  let ttlSeconds = config.cache.ttlSeconds;
  if (ttlText !== null) {
    ttlSeconds = Number(ttlText);
    if (!/^\d+$/.test(ttlText.trim()) || ttlSeconds < 1 || ttlSeconds > config.cache.maxTtlSeconds) {
      throw new ApiError(400, `${CACHE_TTL_HEADER} must be a whole number of seconds from 1 to ${config.cache.maxTtlSeconds}`, {
        code: "invalid_value",
        param: CACHE_TTL_HEADER,
      });
    }
  }
  return { read: !directives.includes("no-cache"), write: !directives.includes("no-store"), ttlSeconds };
}
