/**
 * Retries and fallbacks before the first byte: each model of the plan is tried with
 * exponential backoff and jitter (`p-retry`), honouring a provider's Retry-After, then
 * the next model; all within a bound on attempts and on total time. Only failures the
 * client did not cause are retried: 429, 5xx, timeouts, unreachable and unreadable
 * answers. A client's own 4xx (or its hang-up) ends the plan at once.
 */
import pRetry from "p-retry";
import { ApiError } from "../http/errors.ts";
import type { Model } from "../routing/registry.ts";
import type { UpstreamAnswer } from "./upstream.ts";

/** One call to one model: which, how it ended (`ok` or the error code), and how long it took. */
export type Attempt = { model: string; outcome: string; ms: number };

export type AttemptPolicy = {
  /** Retries per model after its first try. */
  retries: number;
  /** The first backoff; each next one doubles, with jitter. */
  baseDelayMs: number;
  /** The most time all attempts together may take, waits included. */
  maxTotalMs: number;
};

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

export function isRetryable(error: unknown): boolean {
  return error instanceof ApiError && RETRYABLE_STATUS.has(error.status);
}

/**
 * Tries the plan's models in order until one answers; returns it and its answer, and
 * appends every attempt to `attempts`. Throws the last error when none answers.
 */
export async function answerWithFallbacks<M extends Pick<Model, "id">, A = UpstreamAnswer>(
  plan: readonly M[],
  policy: AttemptPolicy,
  call: (model: M) => Promise<A>,
  attempts: Attempt[],
): Promise<{ model: M; answer: A }> {
  const deadline = Date.now() + policy.maxTotalMs;
  // Made only when needed: an Error captures a stack trace, which a request that is answered should not pay for.
  let last: unknown;
  for (const model of plan) {
    if (Date.now() >= deadline) break;
    try {
      const answer = await pRetry(() => timed(model, call, attempts), {
        retries: policy.retries,
        minTimeout: policy.baseDelayMs,
        factor: 2,
        randomize: true,
        maxRetryTime: Math.max(0, deadline - Date.now()),
        shouldRetry: ({ error }) => isRetryable(error),
        onFailedAttempt: async ({ error, retriesLeft, retryDelay }) => {
          if (retriesLeft === 0 || !isRetryable(error)) return;
          // A provider that says when to come back is heard, if the wait fits the time left; else on to the next model.
          const wait = retryAfterMs(error) - retryDelay;
          if (wait <= 0) return;
          if (Date.now() + wait + retryDelay >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, wait));
        },
      });
      return { model, answer };
    } catch (error) {
      last = error;
      if (!isRetryable(error)) throw error;
    }
  }
  throw last ?? new ApiError(502, "No model could be tried", { type: "upstream_error", code: "upstream_error" });
}

async function timed<M extends Pick<Model, "id">, A>(model: M, call: (model: M) => Promise<A>, attempts: Attempt[]): Promise<A> {
  const startedAt = Date.now();
  try {
    const answer = await call(model);
    attempts.push({ model: model.id, outcome: "ok", ms: Date.now() - startedAt });
    return answer;
  } catch (error) {
    attempts.push({ model: model.id, outcome: error instanceof ApiError ? (error.code ?? String(error.status)) : "error", ms: Date.now() - startedAt });
    throw error;
  }
}

/** A provider's Retry-After in milliseconds (seconds, or an HTTP date), or 0. */
function retryAfterMs(error: unknown): number {
  const value = error instanceof ApiError ? error.headers["retry-after"] : undefined;
  if (value === undefined) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}
