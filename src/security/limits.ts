/**
 * Requests and tokens per minute per key, held in Redis so one limit holds across
 * every isolate and location (`@upstash/ratelimit`: a sliding window for requests, a
 * token bucket for tokens). Limiters are made once per isolate's services and per
 * limit value, so the library's ephemeral cache turns away a key already over its
 * limit without a Redis round trip.
 * Failure policy (both limits): fail open. With Redis down or slow past
 * REDIS_TIMEOUT_MS the request is served unlimited, the response says so in
 * `x-tiergate-limits: unchecked`, and the audit row records it; budgets, which are
 * money, fail closed instead (security/budgets.ts).
 */
import { type Duration, Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";
import type { Caller } from "./caller.ts";

export type LimitKind = "requests" | "tokens";
export type LimitState = { limit: number; remaining: number; resetMs: number };
/** What a limit check decided: within it, or unchecked for want of Redis. */
export type LimitOutcome = { checked: true; state: LimitState } | { checked: false };

export type Limiter = {
  /** Counts one request against the key's requests per minute; 429 when over; `undefined` for a key without one. */
  requests(caller: Caller): Promise<LimitOutcome | undefined>;
  /** Debits the request's estimated tokens (prompt + max output) against its tokens per minute; 429 when over. */
  debitTokens(caller: Caller, tokens: number): Promise<LimitOutcome | undefined>;
  /** Puts right the token debit once the real usage is known: a negative difference refunds. */
  correctTokens(caller: Caller, difference: number): Promise<void>;
};

const WINDOW: Duration = "60 s";

export function createLimiter(deps: { keyPrefix: string; redis: Redis | undefined; tracked: Tracked; timeoutMs: number }): Limiter {
  const { redis, tracked } = deps;
  /** One limiter per kind and limit value. */
  const made = new Map<string, Ratelimit>();
  const limiterFor = (kind: LimitKind, limit: number): Ratelimit | undefined => {
    if (redis === undefined) return undefined;
    const name = `${kind}:${limit}`;
    let limiter = made.get(name);
    if (limiter === undefined) {
      limiter = new Ratelimit({
        redis,
        prefix: redisKey(deps, "limit", kind),
        limiter: kind === "requests" ? Ratelimit.slidingWindow(limit, WINDOW) : Ratelimit.tokenBucket(limit, WINDOW, limit),
        ephemeralCache: new Map(),
        timeout: deps.timeoutMs,
        analytics: false,
      });
      made.set(name, limiter);
    }
    return limiter;
  };

  const check = async (kind: LimitKind, caller: Caller, limit: number, rate: number): Promise<LimitOutcome> => {
    const limiter = limiterFor(kind, limit);
    if (limiter === undefined) return { checked: false };
    let result: Awaited<ReturnType<Ratelimit["limit"]>>;
    try {
      result = await tracked("redis", () => limiter.limit(caller.keyId, { rate }));
    } catch {
      return { checked: false };
    }
    if (result.reason === "timeout") return { checked: false };
    const state = { limit: result.limit, remaining: Math.max(0, result.remaining), resetMs: Math.max(0, result.reset - Date.now()) };
    if (!result.success) {
      throw new ApiError(429, `Rate limit reached: ${limit} ${kind} per minute for this key. Try again in ${Math.ceil(state.resetMs / 1000)} s.`, {
        type: "rate_limit_error",
        code: "rate_limit_exceeded",
        auditCode: `rate_limit_exceeded:${kind}`,
        headers: { ...limitHeaders(kind, { checked: true, state }), "retry-after": String(Math.max(1, Math.ceil(state.resetMs / 1000))) },
      });
    }
    return { checked: true, state };
  };

  return {
    requests: async (caller) => (caller.rpm === null ? undefined : check("requests", caller, caller.rpm, 1)),
    debitTokens: async (caller, tokens) => (caller.tpm === null ? undefined : check("tokens", caller, caller.tpm, Math.max(1, Math.ceil(tokens)))),
    async correctTokens(caller, difference) {
      if (caller.tpm === null || difference === 0) return;
      const limiter = limiterFor("tokens", caller.tpm);
      if (limiter === undefined) return;
      await tracked("redis", () => limiter.limit(caller.keyId, { rate: Math.round(difference) })).catch(() => {});
    },
  };
}

/**
 * OpenAI's rate-limit headers for one kind (`x-ratelimit-limit-requests`, `-remaining-`,
 * `-reset-` as "12s"), or `x-tiergate-limits: unchecked` when Redis could not say.
 */
export function limitHeaders(kind: LimitKind, outcome: LimitOutcome | undefined): Record<string, string> {
  if (outcome === undefined) return {};
  if (!outcome.checked) return { "x-tiergate-limits": "unchecked" };
  const { state } = outcome;
  return {
    [`x-ratelimit-limit-${kind}`]: String(state.limit),
    [`x-ratelimit-remaining-${kind}`]: String(state.remaining),
    [`x-ratelimit-reset-${kind}`]: `${Math.ceil(state.resetMs / 1000)}s`,
  };
}

/** The audit row's note when limits went unchecked: "requests per minute unchecked: …", or both kinds. */
export function limitNote(kinds: readonly LimitKind[]): string {
  return `${kinds.join(" and ")} per minute unchecked: Redis unavailable (limits fail open)`;
}
