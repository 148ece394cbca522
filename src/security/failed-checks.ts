/**
 * What refused keys may cost: failed key checks are counted per client address
 * (`CF-Connecting-IP`) in a fixed minute window, held in Redis so the count holds
 * across isolates (`@upstash/ratelimit`'s fixed window: one script call, and only on
 * a failure, so a good key pays nothing). An address past the limit may not make the
 * key directory ask Postgres until its minute ends: keys the isolate or Redis already
 * knows still pass, so one broken client behind a shared address does not lock out
 * the rest. An isolate marks the address itself the moment Redis says it is over, so
 * each isolate spends at most one Postgres look-up on it per minute after that.
 * Failure policy: with Redis down the count is the isolate's own, which still bounds
 * what one isolate spends.
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { LRUCache } from "lru-cache";
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";

export type FailedChecks = {
  /** Until when (ms) the address may not make a key look-up reach Postgres; undefined when it may. */
  blockedUntil(address: string): number | undefined;
  /** Counts one failed key check of the address. */
  failed(address: string): Promise<void>;
};

const WINDOW_MS = 60_000;
/** Addresses an isolate keeps counts and blocks for; past it the least recent are forgotten. */
const ADDRESSES = 10_000;

/** The client address Cloudflare saw, or one shared name when there is none (local runs). */
export function clientAddress(header: string | undefined): string {
  const address = header?.trim() ?? "";
  return address === "" || address.length > 64 ? "unknown" : address;
}

export function createFailedChecks(deps: {
  keyPrefix: string;
  perMinute: number;
  redis: Redis | undefined;
  tracked: Tracked;
  timeoutMs: number;
  clock: () => number;
}): FailedChecks {
  const { perMinute, redis, tracked, clock } = deps;
  const blocked = new LRUCache<string, number>({ max: ADDRESSES });
  const local = new LRUCache<string, { count: number; resetAt: number }>({ max: ADDRESSES });
  const shared =
    redis === undefined
      ? undefined
      : new Ratelimit({
          redis,
          prefix: redisKey(deps, "limit", "failed-keys"),
          limiter: Ratelimit.fixedWindow(perMinute, "60 s"),
          timeout: deps.timeoutMs,
          analytics: false,
        });
  const countLocally = (address: string): { over: boolean; resetAt: number } => {
    const now = clock();
    const window = local.get(address);
    const current = window === undefined || window.resetAt <= now ? { count: 0, resetAt: now + WINDOW_MS } : window;
    current.count += 1;
    local.set(address, current);
    return { over: current.count > perMinute, resetAt: current.resetAt };
  };
  return {
    blockedUntil(address) {
      const until = blocked.get(address);
      if (until === undefined) return undefined;
      if (until > clock()) return until;
      blocked.delete(address);
      return undefined;
    },
    async failed(address) {
      const counted = await (async () => {
        if (shared === undefined) return undefined;
        const result = await tracked("redis", () => shared.limit(address)).catch(() => undefined);
        return result === undefined || result.reason === "timeout" ? undefined : { over: !result.success, resetAt: result.reset };
      })();
      const { over, resetAt } = counted ?? countLocally(address);
      if (over) blocked.set(address, resetAt);
    },
  };
}
