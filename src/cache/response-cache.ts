/**
 * The two-level response cache: an LRU in the isolate (short TTL), then Redis.
 * Failure policy: a Redis error or timeout is a miss on read; on write the entry
 * stays in the isolate only. Neither ever fails a request.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Usage } from "../providers/usage.ts";
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import { redisKey } from "../storage/redis.ts";

/** A successful completion as the provider sent it, with what routed it there. */
export type CachedCompletion = {
  /** The chat.completion JSON, byte for byte. */
  body: string;
  model: string;
  provider: string;
  /** Null for an embeddings answer: embedding models have no tier and no score. */
  tier: number | null;
  score: number | null;
  /** The answer's token usage, kept so a hit need not parse the body to record it. */
  usage: Usage | undefined;
};

/** A cache write for the after-response pipeline: the isolate copy is made at once, the Redis command sent later. */
export type CacheWrite = { key: string; value: string; ttlSeconds: number };

export type CacheSettings = { maxEntryBytes: number; localTtlSeconds: number; localMaxEntries: number };

export type ResponseCache = {
  read(key: string): Promise<CachedCompletion | undefined>;
  /** The isolate's copy alone, known at once (no store call). */
  inIsolate(key: string): CachedCompletion | undefined;
  /**
   * Keeps the entry in the isolate and returns the Redis write to send with the
   * request's other after-work, or `undefined` when the entry is too large to cache.
   */
  prepareWrite(key: string, entry: CachedCompletion, ttlSeconds: number): CacheWrite | undefined;
  /** Entries in this isolate's level of the cache (at most CACHE_LOCAL_MAX_ENTRIES). */
  localEntries(): number;
};

const encoder = new TextEncoder();

export function createResponseCache(deps: {
  settings: CacheSettings;
  keyPrefix: string;
  redis: Pick<Redis, "get"> | undefined;
  tracked: Tracked;
}): ResponseCache {
  const { settings, redis, tracked } = deps;
  const localTtlMs = settings.localTtlSeconds * 1_000;
  // Each entry's own end beside it: an answer whose Redis TTL is shorter than the isolate's leaves the isolate with it.
  const local = lru<{ entry: CachedCompletion; until: number }>(settings.localMaxEntries, localTtlMs);
  const inIsolate = (key: string): CachedCompletion | undefined => {
    const held = local.get(key);
    if (held === undefined) return undefined;
    if (held.until > Date.now()) return held.entry;
    local.delete(key);
    return undefined;
  };
  return {
    inIsolate,
    async read(key) {
      const found = inIsolate(key);
      if (found !== undefined) return found;
      if (redis === undefined) return undefined;
      try {
        const text = await tracked("redis", () => redis.get<string>(redisKey(deps, "cache", key)));
        if (typeof text !== "string") return undefined;
        const entry = JSON.parse(text) as CachedCompletion;
        local.set(key, { entry, until: Date.now() + localTtlMs });
        return entry;
      } catch {
        return undefined;
      }
    },
    prepareWrite(key, entry, ttlSeconds) {
      const value = JSON.stringify(entry);
      if (encoder.encode(value).byteLength > settings.maxEntryBytes) return undefined;
      // An entry lives out its TTL: a fresh answer never replaces one another client already shares.
      if (inIsolate(key) === undefined) local.set(key, { entry, until: Date.now() + Math.min(ttlSeconds, settings.localTtlSeconds) * 1_000 });
      return { key: redisKey(deps, "cache", key), value, ttlSeconds };
    },
    localEntries: () => local.size,
  };
}
