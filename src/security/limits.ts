/**
 * Requests and tokens per minute per key, held in Redis so one limit holds across
 * every isolate and location. Requests: by lease (request-leases.ts), a slice of the
 * key's requests held in the isolate, so a warm key's request makes no round trip for
 * it, and never more than N are admitted in any minute. Tokens: a token bucket of our own
 * (TOKEN_BUCKET below), because a bucket that is debited an estimate before the call
 * must take the correction after it whatever its level (the library drops a debit the
 * bucket cannot cover) and stop a refund at the limit (the library overfills), and a
 * request that can never fit must not block the key's requests that can (the
 * library's ephemeral cache blocks the key after any refusal).
 * Failure policy (both limits): fail open. With Redis down or slow past
 * REDIS_TIMEOUT_MS the request is served unlimited, the response says so in
 * `x-tiergate-limits: unchecked`, and the audit row records it; budgets, which are
 * money, fail closed instead (security/budgets.ts).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";
import { type LuaScript, runScript } from "../storage/scripts.ts";
import type { Caller } from "./caller.ts";
import { createRequestLeases } from "./request-leases.ts";

export type LimitKind = "requests" | "tokens";
export type LimitState = { limit: number; remaining: number; resetMs: number };
/** What a limit check decided: within it, or unchecked for want of Redis. */
export type LimitOutcome = { checked: true; state: LimitState } | { checked: false };

export type Limiter = {
  /**
   * Counts one request against the key's requests per minute; 429 when over; `undefined`
   * for a key without one. `defer` takes the slice's refill, for the request's `waitUntil`.
   */
  requests(caller: Caller, defer: (work: Promise<unknown>) => void): Promise<LimitOutcome | undefined>;
  /**
   * Debits the request's estimated tokens (prompt + max output) against its tokens per
   * minute; 429 when the bucket is short now, 400 when the request can never fit the limit.
   */
  debitTokens(caller: Caller, tokens: number): Promise<LimitOutcome | undefined>;
  /** Puts right the token debit once the real usage is known: always debited (the bucket may go below 0), a refund stops at the limit. */
  correctTokens(caller: Caller, difference: number): Promise<void>;
  /** The tokens bucket as the next request will find it, without moving it (for the headers of answers that debit nothing). */
  peekTokens(caller: Caller): Promise<LimitOutcome | undefined>;
};

const WINDOW_MS = 60_000;

/**
 * A token bucket per key: it holds up to `limit` tokens and refills at `limit` a minute,
 * by Redis's own clock. KEYS[1]: the bucket (hash: t = tokens, at = ms of the last
 * change, d = tokens debited in all). ARGV: limit, amount, mode: "take" refuses when the
 * bucket is short ({0, tokens}) or the amount is over the limit ({-1, tokens}); "force"
 * always applies it, and a negative amount (a refund) stops at the limit (TOKEN_PEEK below
 * reads it). Returns {1 (applied) or 0 or -1, tokens left (floored), ms until full}.
 */
export const TOKEN_BUCKET: LuaScript = {
  source: `#!lua flags=allow-key-locking
local limit, amount, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]) or limit, tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - at) * limit / ${WINDOW_MS})
local function answer(applied)
  return {applied, math.floor(tokens), math.ceil(math.max(0, limit - tokens) * ${WINDOW_MS} / limit)}
end
if mode == 'take' then
  if amount > limit then return answer(-1) end
  if amount > tokens then return answer(0) end
end
tokens = math.min(limit, tokens - amount)
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', now)
redis.call('HINCRBY', KEYS[1], 'd', amount)
-- Kept until it would be full again and a minute more: a debt below zero is paid off by waiting, never forgotten.
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(0, limit - tokens) * ${WINDOW_MS} / limit) + ${WINDOW_MS})
return answer(1)`,
  sha1: "41ea77d8636e35d2ed17dddc8cf2a6b11665ba92",
};

/**
 * The token bucket as the next request will find it, moving nothing: TOKEN_BUCKET's
 * "peek", as a read-only script a replica may answer. KEYS[1], ARGV[1] as there.
 */
export const TOKEN_PEEK: LuaScript = {
  source: `#!lua flags=no-writes,allow-key-locking
local limit = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]) or limit, tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - at) * limit / ${WINDOW_MS})
return {1, math.floor(tokens), math.ceil(math.max(0, limit - tokens) * ${WINDOW_MS} / limit)}`,
  sha1: "8c68c635a62f2f89e7456190f7fbba65489e80df",
  readOnly: true,
};

export function createLimiter(deps: {
  keyPrefix: string;
  redis: Redis | undefined;
  tracked: Tracked;
  clock: () => number;
  /** The requests window: a minute; shorter only in tests. */
  requestsWindowMs?: number;
}): Limiter {
  const { redis, tracked } = deps;
  const leases = createRequestLeases({ ...deps, windowMs: deps.requestsWindowMs });

  const requests = async (caller: Caller, limit: number, defer: (work: Promise<unknown>) => void): Promise<LimitOutcome> => {
    const admitted = await leases.admit(caller.keyId, limit, defer);
    if (admitted.kind === "refused") throw overLimit("requests", limit, admitted.state, admitted.state.resetMs);
    return admitted.kind === "admitted" ? { checked: true, state: admitted.state } : { checked: false };
  };

  /** One call of the bucket script; `undefined` when Redis cannot answer (limits fail open). */
  const bucket = async (caller: Caller, limit: number, amount: number, mode: "take" | "force" | "peek") => {
    if (redis === undefined) return undefined;
    const key = redisKey(deps, "limit", `tokens:${caller.keyId}`);
    try {
      const [applied, tokens, fullInMs] = await tracked("redis", () =>
        mode === "peek"
          ? runScript<[number, number, number]>(redis, TOKEN_PEEK, [key], [String(limit)])
          : runScript<[number, number, number]>(redis, TOKEN_BUCKET, [key], [String(limit), String(amount), mode]),
      );
      return { applied, state: { limit, remaining: Math.max(0, tokens), resetMs: fullInMs }, tokens };
    } catch {
      return undefined;
    }
  };

  return {
    requests: async (caller, defer) => (caller.rpm === null ? undefined : requests(caller, caller.rpm, defer)),
    async debitTokens(caller, estimate) {
      if (caller.tpm === null) return undefined;
      const amount = Math.max(1, Math.ceil(estimate));
      const result = await bucket(caller, caller.tpm, amount, "take");
      if (result === undefined) return { checked: false };
      if (result.applied === -1) throw neverFits(caller.tpm, amount);
      // Short now: it refills at the limit a minute, so the debit fits once the missing tokens are back.
      if (result.applied === 0) throw overLimit("tokens", caller.tpm, result.state, Math.ceil(((amount - result.tokens) * WINDOW_MS) / caller.tpm));
      return { checked: true, state: result.state };
    },
    async correctTokens(caller, difference) {
      if (caller.tpm === null || difference === 0) return;
      await bucket(caller, caller.tpm, Math.round(difference), "force");
    },
    async peekTokens(caller) {
      if (caller.tpm === null) return undefined;
      const result = await bucket(caller, caller.tpm, 0, "peek");
      return result === undefined ? { checked: false } : { checked: true, state: result.state };
    },
  };
}

function overLimit(kind: LimitKind, limit: number, state: LimitState, retryMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(retryMs / 1000));
  return new ApiError(429, `Rate limit reached: ${limit} ${kind} per minute for this key. Try again in ${seconds} s.`, {
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    auditCode: `rate_limit_exceeded:${kind}`,
    headers: { ...limitHeaders(kind, { checked: true, state }), "retry-after": String(seconds) },
  });
}

/** A request the key's tokens per minute can never take: no wait helps, so it is not a 429. */
function neverFits(limit: number, amount: number): ApiError {
  return new ApiError(
    400,
    `This request needs about ${amount} tokens (its prompt and max_tokens, times n), more than this key's limit of ${limit} tokens per minute: lower max_tokens or send less`,
    { code: "tokens_exceed_limit", param: "max_tokens", headers: { "x-should-retry": "false" } },
  );
}

/**
 * The tokens bucket with `tokens` given back (a request settled at nothing): up to the
 * limit, full again in what is missing at the limit a minute, as TOKEN_BUCKET counts.
 */
export function withTokensBack(outcome: LimitOutcome, tokens: number): LimitOutcome {
  if (!outcome.checked || tokens === 0) return outcome;
  const { limit } = outcome.state;
  const remaining = Math.min(limit, outcome.state.remaining + tokens);
  return { checked: true, state: { limit, remaining, resetMs: Math.ceil(((limit - remaining) * WINDOW_MS) / limit) } };
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
