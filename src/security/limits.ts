/**
 * Requests and tokens per minute per key, held in Redis so one limit holds across
 * every isolate and location (`@upstash/ratelimit`: a sliding window for requests, a
 * token bucket for tokens). Limiters are made once per isolate and per limit value,
 * so the library's ephemeral cache turns away a key already over its limit without
 * a Redis round trip.
 * Failure policy (both limits): fail open. With Redis down or slow past
 * REDIS_TIMEOUT_MS the request is served unlimited, the response says so in
 * `x-tiergate-limits: unchecked`, and the audit row records it; budgets, which are
 * money, fail closed instead (security/budgets.ts).
 */
import { type Duration, Ratelimit } from "@upstash/ratelimit";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import { ApiError } from "../openai/errors.ts";
import { tracked } from "../storage/availability.ts";
import { redisFor, redisKey } from "../storage/redis.ts";
import type { Caller } from "./api-keys.ts";

export type LimitState = { limit: number; remaining: number; resetMs: number };
/** What a limit check decided: within it, or unchecked for want of Redis. */
export type LimitOutcome = { checked: true; state: LimitState } | { checked: false };

const WINDOW: Duration = "60 s";

/** One limiter per kind and limit value, per isolate. */
const limiters = perConfig((config) => {
  const made = new Map<string, Ratelimit>();
  return (kind: "requests" | "tokens", limit: number): Ratelimit | undefined => {
    const redis = redisFor(config);
    if (redis === undefined) return undefined;
    const name = `${kind}:${limit}`;
    let limiter = made.get(name);
    if (limiter === undefined) {
      limiter = new Ratelimit({
        redis,
        prefix: redisKey(config, "limit", kind),
        limiter: kind === "requests" ? Ratelimit.slidingWindow(limit, WINDOW) : Ratelimit.tokenBucket(limit, WINDOW, limit),
        ephemeralCache: new Map(),
        timeout: config.redis?.timeoutMs ?? 1_000,
        analytics: false,
      });
      made.set(name, limiter);
    }
    return limiter;
  };
});

/** Counts one request against the key's requests-per-minute; 429 when over. */
export async function limitRequests(config: Config, caller: Caller): Promise<LimitOutcome | undefined> {
  if (caller.rpm === null) return undefined;
  return check(config, "requests", caller, caller.rpm, 1);
}

/** Debits the request's estimated tokens (prompt + max output) against its tokens-per-minute; 429 when over. */
export async function debitTokens(config: Config, caller: Caller, tokens: number): Promise<LimitOutcome | undefined> {
  if (caller.tpm === null) return undefined;
  return check(config, "tokens", caller, caller.tpm, Math.max(1, Math.ceil(tokens)));
}

/** Puts right the token debit once the real usage is known: a negative difference refunds. */
export async function correctTokens(config: Config, caller: Caller, difference: number): Promise<void> {
  if (caller.tpm === null || difference === 0) return;
  const limiter = limiters(config)("tokens", caller.tpm);
  await tracked("redis", () => limiter!.limit(caller.keyId, { rate: Math.round(difference) })).catch(() => {});
}

async function check(config: Config, kind: "requests" | "tokens", caller: Caller, limit: number, rate: number): Promise<LimitOutcome> {
  const limiter = limiters(config)(kind, limit);
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
      headers: { ...limitHeaders(kind, state), "retry-after": String(Math.max(1, Math.ceil(state.resetMs / 1000))) },
    });
  }
  return { checked: true, state };
}

/** OpenAI's rate-limit headers for one kind: `x-ratelimit-limit-requests`, `-remaining-`, `-reset-` ("12s"). */
export function limitHeaders(kind: "requests" | "tokens", state: LimitState): Record<string, string> {
  return {
    [`x-ratelimit-limit-${kind}`]: String(state.limit),
    [`x-ratelimit-remaining-${kind}`]: String(state.remaining),
    [`x-ratelimit-reset-${kind}`]: `${Math.ceil(state.resetMs / 1000)}s`,
  };
}
