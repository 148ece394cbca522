/**
 * Requests per minute per key, held in Redis so one limit holds across every isolate
 * and location: by lease (request-leases.ts), a slice of the key's requests held in the
 * isolate, so a warm key's request makes no round trip for it, and never more than N
 * are admitted in any minute. Tokens per minute go by lease too, with the budgets
 * (allowances.ts). Here also: the limits' refusals and their headers.
 * Failure policy (both limits): fail open. With Redis down or slow past
 * REDIS_TIMEOUT_MS the request is served unlimited, the response says so in
 * `x-tiergate-limits: unchecked`, and the audit row records it; budgets, which are
 * money, fail closed instead (security/allowances.ts).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import type { ScriptRunner } from "../storage/scripts.ts";
import { TOKEN_WINDOW_MS } from "./allowance-script.ts";
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
  requests(caller: Caller, defer: (work: Promise<unknown>) => void, via?: ScriptRunner): Promise<LimitOutcome | undefined>;
};

export function createLimiter(deps: {
  keyPrefix: string;
  redis: Redis | undefined;
  tracked: Tracked;
  clock: () => number;
  /** The requests window: a minute; shorter only in tests. */
  requestsWindowMs?: number;
}): Limiter {
  const leases = createRequestLeases({ ...deps, windowMs: deps.requestsWindowMs });

  const requests = async (caller: Caller, limit: number, defer: (work: Promise<unknown>) => void, via?: ScriptRunner): Promise<LimitOutcome> => {
    const admitted = await leases.admit(caller.keyId, limit, defer, via);
    if (admitted.kind === "refused") throw overLimit("requests", limit, admitted.state, admitted.state.resetMs);
    return admitted.kind === "admitted" ? { checked: true, state: admitted.state } : { checked: false };
  };

  return {
    requests: async (caller, defer, via) => (caller.rpm === null ? undefined : requests(caller, caller.rpm, defer, via)),
  };
}

export function overLimit(kind: LimitKind, limit: number, state: LimitState, retryMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(retryMs / 1000));
  return new ApiError(429, `Rate limit reached: ${limit} ${kind} per minute for this key. Try again in ${seconds} s.`, {
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    auditCode: `rate_limit_exceeded:${kind}`,
    headers: { ...limitHeaders(kind, { checked: true, state }), "retry-after": String(seconds) },
  });
}

/** A request the key's tokens per minute can never take: no wait helps, so it is not a 429. */
export function neverFits(limit: number, amount: number): ApiError {
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
  return { checked: true, state: { limit, remaining, resetMs: Math.ceil(((limit - remaining) * TOKEN_WINDOW_MS) / limit) } };
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
