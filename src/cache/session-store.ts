/**
 * What routing remembers of each session (routing/affinity.ts): an LRU in the isolate,
 * then Redis, under a key with a TTL. Read before the decision (the isolate) and beside
 * the request's other store calls (Redis, a read a replica answers); written after the
 * answer. Failure policy: a Redis error, a timeout or an unreadable value is a session
 * routing does not know (the turn is routed as new); a write Redis does not take stays in
 * the isolate. Neither ever fails a request.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import * as z from "zod";
import type { RememberedSession } from "../routing/affinity.ts";
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import { redisKey } from "../storage/redis.ts";

/**
 * How long a session is remembered after its last call, however short its cache: an
 * agent's tool can run longer than a 5-minute cache lives, and its result still
 * continues the task on the same model.
 */
export const SESSION_MEMORY_SECONDS = 3_600;

/** Sessions one isolate remembers at most (each about a hundred bytes). */
const ISOLATE_SESSIONS = 10_000;

const RememberedSchema = z.object({
  model: z.string().min(1),
  tier: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
  cacheUntil: z.number(),
  promptTokens: z.number().nonnegative(),
});

/** The Redis half of what a session remembers, for the after-response batch (pipeline/after-response.ts). */
export type SessionWrite = { key: string; value: string; ttlSeconds: number };

/**
 * Where a session is kept: the isolate knows it by `local` (a short text known before any
 * digest is taken, engine/session-step.ts), Redis by its digest.
 */
export type SessionAddress = { local: string; digest: string };

/** What the isolate keeps of a session: what it remembers, and its digest (so a known session's turn takes none). */
export type KnownSession = { remembered: RememberedSession; digest: string };

export type SessionStore = {
  /** The isolate's copy alone, known at once (no store call). */
  inIsolate(local: string): KnownSession | undefined;
  /** The isolate's copy, else Redis's (kept in the isolate once read). */
  read(address: SessionAddress): Promise<RememberedSession | undefined>;
  /** Keeps the session in the isolate at once and returns the Redis write to send after the answer. */
  remember(address: SessionAddress, session: RememberedSession): SessionWrite;
};

export function createSessionStore(deps: { keyPrefix: string; redis: Pick<Redis, "get"> | undefined; tracked: Tracked; clock?: () => number }): SessionStore {
  const { redis, tracked } = deps;
  const clock = deps.clock ?? Date.now;
  const local = lru<KnownSession>(ISOLATE_SESSIONS, SESSION_MEMORY_SECONDS * 1_000);
  const inIsolate = (key: string): KnownSession | undefined => local.get(key);
  return {
    inIsolate,
    async read({ local: key, digest }) {
      const known = inIsolate(key);
      if (known !== undefined || redis === undefined) return known?.remembered;
      try {
        const text = await tracked("redis", () => redis.get<string>(redisKey(deps, "session", digest)));
        if (typeof text !== "string") return undefined;
        const found = RememberedSchema.safeParse(JSON.parse(text));
        if (!found.success) return undefined;
        local.set(key, { remembered: found.data, digest });
        return found.data;
      } catch {
        return undefined;
      }
    },
    remember({ local: key, digest }, session) {
      local.set(key, { remembered: session, digest });
      // Remembered an hour after the call, or as long as an hour's cache outlives it.
      const ttlSeconds = Math.max(SESSION_MEMORY_SECONDS, Math.ceil((session.cacheUntil - clock()) / 1_000));
      return { key: redisKey(deps, "session", digest), value: JSON.stringify(session), ttlSeconds };
    },
  };
}
