/**
 * What refused keys may cost: failed key checks are counted per client address
 * (`CF-Connecting-IP`) in a window of a minute from its first failure, held in Redis so
 * the count holds across isolates (FAILED_CHECK: one script call, and only on a
 * failure, so a good key pays nothing). An address past the limit may not make the
 * key directory ask Postgres until its window ends: keys the isolate or Redis already
 * knows still pass, so one broken client behind a shared address does not lock out
 * the rest. An isolate marks the address itself the moment Redis says it is over, so
 * each isolate spends at most one Postgres look-up on it per minute after that.
 * Failure policy: with Redis down the count is the isolate's own, which still bounds
 * what one isolate spends.
 */
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import { redisKey } from "../storage/redis.ts";
import { type LuaScript, runScript, type ScriptRunner } from "../storage/scripts.ts";

export type FailedChecks = {
  /** Until when (ms) the address may not make a key look-up reach Postgres; undefined when it may. */
  blockedUntil(address: string): number | undefined;
  /** Counts one failed key check of the address. */
  failed(address: string): Promise<void>;
};

const WINDOW_MS = 60_000;

/**
 * KEYS[1]: the address's count. ARGV[1]: the window (ms). Counts one failure; the window
 * starts at the first. Returns {failures in the window, ms until it ends}. (It replaces
 * `@upstash/ratelimit`'s fixed window, whose 30 KB in the bundle bought one INCR.)
 */
export const FAILED_CHECK: LuaScript = {
  source: `#!lua flags=allow-key-locking
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
  left = tonumber(ARGV[1])
end
return {count, left}`,
  sha1: "40026513a747f1a60df88ce0eb14096bfc51f974",
};
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
  redis: ScriptRunner | undefined;
  tracked: Tracked;
  clock: () => number;
}): FailedChecks {
  const { perMinute, redis, tracked, clock } = deps;
  const blocked = lru<number>(ADDRESSES);
  const local = lru<{ count: number; resetAt: number }>(ADDRESSES);
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
        if (redis === undefined) return undefined;
        const key = redisKey(deps, "limit", `failed-keys:${address}`);
        const result = await tracked("redis", () => runScript<[number, number]>(redis, FAILED_CHECK, [key], [String(WINDOW_MS)])).catch(() => undefined);
        return result === undefined ? undefined : { over: result[0] > perMinute, resetAt: clock() + result[1] };
      })();
      const { over, resetAt } = counted ?? countLocally(address);
      if (over) blocked.set(address, resetAt);
    },
  };
}
