/** Settings of calls to providers (timeouts, retries, fallbacks, circuit breakers, health probes), and what they make. */
import * as z from "zod";
import { jsonSetting } from "./json-setting.ts";

export const UpstreamSettings = z.object({
  /** Longest wait for a provider's headers, a whole JSON answer, or the next stream chunk. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries per model after its first try, on 429, 5xx, timeouts and unreadable answers (before the first byte only). */
  UPSTREAM_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** The first retry's backoff in ms; each next one doubles, with jitter. */
  UPSTREAM_RETRY_BASE_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  /** Models tried for one request: the decision's pick, then its fallbacks (the rest of the tier, then the tiers above). */
  FALLBACK_MAX_MODELS: z.coerce.number().int().min(1).max(20).default(3),
  /** The most time all attempts of one request may take, waits included. */
  UPSTREAM_MAX_TOTAL_MS: z.coerce.number().int().positive().default(90_000),
  /** A model's (or a whole provider's) circuit opens after this many failures in a row; 0 turns breakers off. */
  BREAKER_FAILURES: z.coerce.number().int().min(0).max(1_000).default(5),
  /**
   * A circuit also opens when this share (percent) of its calls in the window failed, once the window holds
   * BREAKER_MIN_REQUESTS calls.
   */
  BREAKER_ERROR_RATE: z.coerce.number().min(1).max(100).default(50),
  /** The fewest calls in the window before BREAKER_ERROR_RATE may open a circuit. */
  BREAKER_MIN_REQUESTS: z.coerce.number().int().min(1).default(20),
  /** The window over which BREAKER_ERROR_RATE is measured. */
  BREAKER_WINDOW_SECONDS: z.coerce.number().int().positive().default(30),
  /** How long an open circuit stays open before one trial call may close it (half-open). */
  BREAKER_COOLDOWN_SECONDS: z.coerce.number().positive().default(30),
  /** How long an isolate keeps the shared breaker and latency state before reading Redis again. */
  HEALTH_CACHE_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  /** How the cron checks each provider: {"groq":"models","my-llm":"completion","other":"off"}; default "models" (GET /models). */
  PROVIDER_PROBES: jsonSetting(z.record(z.string(), z.enum(["models", "completion", "off"]))).optional(),
  /** The longest one provider probe of the cron waits. */
  PROBE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
});

export type BreakerSettings = {
  /** 0: breakers off. */
  failures: number;
  errorRatePct: number;
  minRequests: number;
  windowMs: number;
  cooldownMs: number;
  /** Isolate-local caching of the shared state. */
  viewTtlMs: number;
};
export type ProbeKind = "models" | "completion" | "off";

export type UpstreamConfig = {
  upstreamTimeoutMs: number;
  retry: { retries: number; baseDelayMs: number; maxTotalMs: number; maxModels: number };
  breaker: BreakerSettings;
  probes: { kinds: Readonly<Record<string, ProbeKind>>; timeoutMs: number };
};

export function upstreamConfig(env: z.infer<typeof UpstreamSettings>): UpstreamConfig {
  return {
    upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
    retry: {
      retries: env.UPSTREAM_RETRIES,
      baseDelayMs: env.UPSTREAM_RETRY_BASE_MS,
      maxTotalMs: env.UPSTREAM_MAX_TOTAL_MS,
      maxModels: env.FALLBACK_MAX_MODELS,
    },
    breaker: {
      failures: env.BREAKER_FAILURES,
      errorRatePct: env.BREAKER_ERROR_RATE,
      minRequests: env.BREAKER_MIN_REQUESTS,
      windowMs: env.BREAKER_WINDOW_SECONDS * 1_000,
      cooldownMs: Math.round(env.BREAKER_COOLDOWN_SECONDS * 1_000),
      viewTtlMs: env.HEALTH_CACHE_MS,
    },
    probes: { kinds: env.PROVIDER_PROBES ?? {}, timeoutMs: env.PROBE_TIMEOUT_MS },
  };
}
