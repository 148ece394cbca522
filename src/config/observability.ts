/** Settings of what the router counts and where it sends it (metrics, Pushgateway, OTLP), and the day's SLOs. */
import * as z from "zod";

export const ObservabilitySettings = z.object({
  /** false: nothing is counted (the bench measures what counting costs with it). */
  METRICS_ENABLED: z.enum(["true", "false"]).default("true"),
  /** A bearer token for GET /metrics alone, so a scraper need not hold the admin key. */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  /** Where the every-minute cron pushes the metrics (a Prometheus Pushgateway's base URL); unset: no push. */
  PUSHGATEWAY_URL: z.url().optional(),
  /** Where the cron also sends them as OTLP/HTTP JSON (a collector's /v1/metrics); unset: not sent. */
  OTLP_METRICS_URL: z.url().optional(),
  /** The day's SLO the scheduled audit checks (and alerts on): the router's overhead p99, in ms. */
  SLO_OVERHEAD_P99_MS: z.coerce.number().positive().default(50),
  /** The day's SLO for the cache hit rate (0..1) of requests that could hit; 0: not checked. */
  SLO_CACHE_HIT_RATE: z.coerce.number().min(0).max(1).default(0),
  /** The day's SLO for the share of 5xx answers (0..1). */
  SLO_ERROR_RATE: z.coerce.number().min(0).max(1).default(0.01),
});

/** The day's SLOs the scheduled audit checks. */
export type SloTargets = { overheadP99Ms: number; cacheHitRate: number; errorRate: number };

export type ObservabilityConfig = {
  metricsEnabled: boolean;
  metricsToken: string | undefined;
  push: { pushgatewayUrl: string | undefined; otlpUrl: string | undefined };
  slo: SloTargets;
};

export function observabilityConfig(env: z.infer<typeof ObservabilitySettings>): ObservabilityConfig {
  return {
    metricsEnabled: env.METRICS_ENABLED === "true",
    metricsToken: env.METRICS_TOKEN,
    push: { pushgatewayUrl: env.PUSHGATEWAY_URL, otlpUrl: env.OTLP_METRICS_URL },
    slo: { overheadP99Ms: env.SLO_OVERHEAD_P99_MS, cacheHitRate: env.SLO_CACHE_HIT_RATE, errorRate: env.SLO_ERROR_RATE },
  };
}
