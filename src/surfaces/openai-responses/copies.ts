/**
 * Copies of stored responses where a continuation reads them without Neon: this
 * isolate's (an LRU bounded by size) and Redis's (a read a replica answers), each under
 * the key `scope/id`, the same scope the Postgres row is stored under (store.ts), so
 * another tenant's request looks under another key. A DELETE leaves a tombstone beside
 * the copy it drops, which no late write of the copy goes past (COPY_UNLESS_DELETED).
 * Failure policy: a Redis error or timeout on a read is "Redis cannot say" (the caller
 * asks Postgres); a write Redis does not take returns false (the caller saves to
 * Postgres before the answer); a delete Redis does not take throws, since the copy
 * would outlive the DELETE.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Tracked } from "../../storage/availability.ts";
import { textLru } from "../../storage/lru.ts";
import { redisKey } from "../../storage/redis.ts";
import { type LuaScript, runScript } from "../../storage/scripts.ts";

/** How long a copy lives in Redis and in the isolate: an agent's next turn comes within it; a later one reads Postgres, and copies it again. */
export const COPY_TTL_SECONDS = 3_600;
/** A tombstone outlives any save still under way when its response was deleted (waitUntil ends 30 s after the answer). */
const TOMBSTONE_SECONDS = 3_600;
/** The largest copy Redis is sent (Upstash's smallest request limit is 1 MB); a larger response is saved to Postgres before its answer, as all were. */
const MAX_COPY_BYTES = 1_000_000;
/** What one isolate holds of copies, in characters (about 16 MB of its 128 MB). */
const ISOLATE_CHARS = 8_000_000;
/** How long a continuation waits for this isolate's write of a copy still under way; past it, it asks Redis and Postgres. */
const WRITE_WAIT_MS = 1_000;

/**
 * KEYS[1]: the copy, KEYS[2]: its tombstone. ARGV[1]: the copy's text, ARGV[2]: its TTL
 * (s). Writes the copy unless the response was deleted: a copy read from Postgres just
 * before a DELETE would otherwise outlive it. Returns 1 when written.
 */
export const COPY_UNLESS_DELETED: LuaScript = {
  source: `#!lua flags=allow-key-locking
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1`,
  sha1: "007a5af3a26697ccc92072fce686b72e7c321794",
};

/**
 * KEYS[1]: a tombstone. Returns 1 when the response was deleted. Sent as EVALSHA (not
 * read-only) on purpose: the primary answers, which a DELETE's tombstone has reached
 * even when a replica has not.
 */
export const WAS_DELETED: LuaScript = {
  source: `#!lua flags=allow-key-locking
return redis.call('EXISTS', KEYS[1])`,
  sha1: "3b402c1f865a40f490272406b31794a637ab47db",
};

export type ResponseCopies = {
  /** Where the copy of `id` in `scope` is kept: the scope and the id, each encoded, so no pair names another's. */
  keyOf(scope: string, id: string): string;
  /** This isolate's copy, once this isolate's write of it to Redis, if one is under way, is done (read your writes). */
  local(key: string): Promise<string | undefined>;
  /** Whether Redis holds the copy (a replica answers); undefined when Redis cannot say. */
  inRedis(key: string): Promise<boolean | undefined>;
  /** Redis's copy (a replica answers), then kept in the isolate; undefined on a miss or when Redis cannot say. */
  fromRedis(key: string): Promise<string | undefined>;
  /** Keeps the copy in the isolate at once and writes it to Redis (unless deleted, with `unlessDeleted`); true when Redis took it. */
  write(key: string, text: string, ttlSeconds: number, options?: { unlessDeleted: true }): Promise<boolean>;
  /** Makes Redis keep an existing copy for `ttlSeconds`; true when it did (false when there was none, or Redis failed). */
  extend(key: string, ttlSeconds: number): Promise<boolean>;
  /** Whether the response was deleted since its copy was written (the primary answers); undefined when Redis cannot say. */
  wasDeleted(key: string): Promise<boolean | undefined>;
  /** Drops both copies and leaves a tombstone; true when Redis held a copy. Throws when Redis did not take it. */
  remove(key: string): Promise<boolean>;
  /** Drops this isolate's copy. */
  forget(key: string): void;
};

type CopiesRedis = Pick<Redis, "get" | "set" | "exists" | "expire" | "pipeline" | "evalsha" | "eval" | "evalshaRo" | "evalRo">;

const encoder = new TextEncoder();

export function createResponseCopies(deps: { keyPrefix: string; redis: CopiesRedis | undefined; tracked: Tracked }): ResponseCopies {
  const { redis, tracked } = deps;
  const local = textLru(ISOLATE_CHARS, COPY_TTL_SECONDS * 1_000);
  /** This isolate's writes to Redis under way, by key. */
  const writing = new Map<string, Promise<boolean>>();
  const copyKey = (key: string) => redisKey(deps, "response", key);
  const tombstone = (key: string) => redisKey(deps, "response", `deleted/${key}`);
  /** Redis's answer, or undefined when it has none to give (not configured, down, slow). */
  const ask = async <T>(call: (redis: CopiesRedis) => Promise<T>): Promise<T | undefined> => {
    if (redis === undefined) return undefined;
    try {
      return await tracked("redis", () => call(redis));
    } catch {
      return undefined;
    }
  };
  return {
    keyOf: (scope, id) => `${encodeURIComponent(scope)}/${encodeURIComponent(id)}`,
    async local(key) {
      const under = writing.get(key);
      // Another request's write: waited for a bounded time, never for ever (that request may end first).
      if (under !== undefined) await Promise.race([under, new Promise((resolve) => setTimeout(resolve, WRITE_WAIT_MS))]);
      return local.get(key);
    },
    async inRedis(key) {
      const found = await ask((r) => r.exists(copyKey(key)));
      return found === undefined ? undefined : found > 0;
    },
    async fromRedis(key) {
      const text = await ask((r) => r.get<string>(copyKey(key)));
      if (typeof text !== "string") return undefined;
      local.set(key, text);
      return text;
    },
    write(key, text, ttlSeconds, options) {
      local.set(key, text);
      if (redis === undefined || encoder.encode(text).byteLength > MAX_COPY_BYTES) return Promise.resolve(false);
      const written = ask((r) =>
        options?.unlessDeleted
          ? runScript<number>(r, COPY_UNLESS_DELETED, [copyKey(key), tombstone(key)], [text, String(ttlSeconds)]).then((done) => Number(done) === 1)
          : r.set(copyKey(key), text, { ex: ttlSeconds }).then(() => true),
      ).then((done) => done === true);
      writing.set(key, written);
      void written.then(() => {
        if (writing.get(key) === written) writing.delete(key);
      });
      return written;
    },
    async extend(key, ttlSeconds) {
      return (await ask((r) => r.expire(copyKey(key), ttlSeconds))) === 1;
    },
    async wasDeleted(key) {
      const found = await ask((r) => runScript<number>(r, WAS_DELETED, [tombstone(key)], []));
      return found === undefined ? undefined : Number(found) === 1;
    },
    async remove(key) {
      local.delete(key);
      if (redis === undefined) return false;
      const pipeline = redis.pipeline();
      pipeline.set(tombstone(key), "1", { ex: TOMBSTONE_SECONDS });
      pipeline.del(copyKey(key));
      const [, dropped] = await tracked("redis", () => pipeline.exec<[unknown, number]>());
      return dropped > 0;
    },
    forget: (key) => local.delete(key),
  };
}
