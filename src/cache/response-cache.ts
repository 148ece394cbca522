/**
 * The two-level response cache: an LRU in the isolate (short TTL), then Redis.
 * Failure policy: a Redis error or timeout is a miss on read; on write the entry
 * stays in the isolate only. Neither ever fails a request.
 */
import { LRUCache } from "lru-cache";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import type { Usage } from "../providers/usage.ts";
import { tracked } from "../storage/availability.ts";
import { redisFor, redisKey } from "../storage/redis.ts";

/** A successful completion as the provider sent it, with what routed it there. */
export type CachedCompletion = {
  /** The chat.completion JSON, byte for byte. */
  body: string;
  model: string;
  provider: string;
  tier: number;
  score: number;
  /** The answer's token usage, kept so a hit need not parse the body to record it. */
  usage: Usage | undefined;
};

const encoder = new TextEncoder();
const localFor = perConfig(
  (config) => new LRUCache<string, CachedCompletion>({ max: config.cache.localMaxEntries, ttl: config.cache.localTtlSeconds * 1_000 }),
);

/** Entries in this isolate's level of the cache (at most CACHE_LOCAL_MAX_ENTRIES). */
export const localEntries = (config: Config): number => localFor(config).size;

export async function readCache(config: Config, key: string): Promise<CachedCompletion | undefined> {
  const local = localFor(config).get(key);
  if (local !== undefined) return local;
  const redis = redisFor(config);
  if (redis === undefined) return undefined;
  try {
    const text = await tracked("redis", () => redis.get<string>(redisKey(config, "cache", key)));
    if (typeof text !== "string") return undefined;
    const entry = JSON.parse(text) as CachedCompletion;
    localFor(config).set(key, entry);
    return entry;
  } catch {
    return undefined;
  }
}

/** A cache write for the after-response pipeline: the isolate copy now, the Redis command for later. */
export type CacheWrite = { key: string; value: string; ttlSeconds: number };

/**
 * Keeps the entry in the isolate and returns the Redis write to send with the
 * request's other after-work, or `undefined` when the entry is too large to cache.
 */
export function prepareCacheWrite(config: Config, key: string, entry: CachedCompletion, ttlSeconds: number): CacheWrite | undefined {
  const value = JSON.stringify(entry);
  if (encoder.encode(value).byteLength > config.cache.maxEntryBytes) return undefined;
  // An entry lives out its TTL: a fresh answer never replaces one another client already shares.
  const local = localFor(config);
  if (!local.has(key)) local.set(key, entry, { ttl: Math.min(ttlSeconds, config.cache.localTtlSeconds) * 1_000 });
  return { key: redisKey(config, "cache", key), value, ttlSeconds };
}
