/**
 * The metric set: names, help, types, label names and fixed buckets, after Prometheus
 * conventions (base units, `_total` counters, `_seconds` histograms) and with LiteLLM's
 * set as the anchor. Labels are few and bounded: tier, model, provider, status, cache
 * result, never a key or a request id. Values are kept as integers in Redis (micro-units
 * for seconds and dollars) so every increment is exact; the exposition divides.
 */

export type MetricType = "counter" | "histogram" | "gauge";
export type Metric = { name: string; help: string; type: MetricType; labels: readonly string[]; buckets?: readonly number[]; unit?: "micro" };

/** Seconds. Router overhead lives in milliseconds; answers in seconds. */
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

export const METRICS = {
  requests: {
    name: "tiergate_requests_total",
    help: "Requests, by tier, model, provider, HTTP status and cache result.",
    type: "counter",
    labels: ["tier", "model", "provider", "status", "cache"],
  },
  duration: {
    name: "tiergate_request_duration_seconds",
    help: "Time from the request to the last byte of the answer.",
    type: "histogram",
    labels: ["tier", "cache"],
    buckets: LATENCY_BUCKETS,
    unit: "micro",
  },
  upstream: {
    name: "tiergate_upstream_duration_seconds",
    help: "Time spent on provider calls (every attempt and backoff).",
    type: "histogram",
    labels: ["provider"],
    buckets: LATENCY_BUCKETS,
    unit: "micro",
  },
  firstToken: {
    name: "tiergate_time_to_first_token_seconds",
    help: "Streams: time from the request to the provider's first event.",
    type: "histogram",
    labels: ["provider"],
    buckets: LATENCY_BUCKETS,
    unit: "micro",
  },
  overhead: {
    name: "tiergate_overhead_seconds",
    help: "Router overhead: total time less time spent on provider calls.",
    type: "histogram",
    labels: ["cache"],
    buckets: OVERHEAD_BUCKETS,
    unit: "micro",
  },
  tokens: {
    name: "tiergate_tokens_total",
    help: "Tokens, by direction (input, output), tier, model and provider.",
    type: "counter",
    labels: ["direction", "tier", "model", "provider"],
  },
  tokenClasses: {
    name: "tiergate_token_classes_total",
    help: "Tokens by usage class: cache_read, cache_write (5 minutes) and cache_write_1h are parts of the input tokens, reasoning a part of the output tokens.",
    type: "counter",
    labels: ["class", "tier", "model", "provider"],
  },
  spend: {
    name: "tiergate_spend_usd_total",
    help: "Spend in US dollars at the answering model's prices.",
    type: "counter",
    labels: ["tier", "model", "provider"],
    unit: "micro",
  },
  savings: {
    name: "tiergate_savings_usd_total",
    help: "Dollars saved against answering every request with the top tier's reference model.",
    type: "counter",
    labels: ["tier"],
    unit: "micro",
  },
  attempts: {
    name: "tiergate_upstream_attempts_total",
    help: "Provider calls, by outcome (ok or the error code).",
    type: "counter",
    labels: ["provider", "model", "outcome"],
  },
  retries: { name: "tiergate_retries_total", help: "Provider calls repeated on the same model.", type: "counter", labels: ["provider", "model"] },
  fallbacks: { name: "tiergate_fallbacks_total", help: "Requests answered by a model other than the first one tried.", type: "counter", labels: ["tier"] },
  records: { name: "tiergate_audit_records_total", help: "Audit records made.", type: "counter", labels: [] },
  compliant: { name: "tiergate_audit_records_with_hash_total", help: "Audit records carrying the pinned constitutional hash.", type: "counter", labels: [] },
} as const satisfies Record<string, Metric>;

/** Read from Redis at exposition time, not counted per request. */
export const GAUGES = {
  compliance: {
    name: "tiergate_constitutional_compliance_ratio",
    help: "Share of audit records carrying the pinned constitutional hash (must be 1).",
    type: "gauge",
    labels: [],
  },
  cacheReadRatio: {
    name: "tiergate_cache_read_ratio",
    help: "Share of input tokens the providers read from their prompt caches, since the counters began (rate the two counters for a window).",
    type: "gauge",
    labels: [],
  },
  breakerState: { name: "tiergate_breaker_state", help: "Circuit state: 0 closed, 1 half-open, 2 open.", type: "gauge", labels: ["kind", "target"] },
  breakerTransitions: { name: "tiergate_breaker_transitions_total", help: "Circuits opened and closed.", type: "counter", labels: ["kind", "target", "state"] },
  queueDepth: { name: "tiergate_audit_queue_depth", help: "Audit records waiting in Redis for the flush.", type: "gauge", labels: [] },
  queueAge: { name: "tiergate_audit_queue_oldest_age_seconds", help: "Age of the oldest record waiting for the flush (flush lag).", type: "gauge", labels: [] },
  auditOk: { name: "tiergate_audit_verification_ok", help: "1 when the last scheduled audit verified the log clean, 0 when not.", type: "gauge", labels: [] },
  auditProblems: { name: "tiergate_audit_problems", help: "Problems the last scheduled audit found, by kind.", type: "gauge", labels: ["kind"] },
  auditLastRun: { name: "tiergate_audit_last_run_timestamp_seconds", help: "When the last scheduled audit ran.", type: "gauge", labels: [] },
  sloOk: { name: "tiergate_slo_ok", help: "1 when the last scheduled audit found the day's SLO met, by SLO.", type: "gauge", labels: ["slo"] },
} as const satisfies Record<string, Metric>;

/**
 * One series' field in the Redis hash: `name|k=v,k=v` (labels in the metric's order;
 * values never hold `|`, `,` or `=` after `labelValue`). Histograms add `|le=…`,
 * `|sum` or `|count`.
 */
export function field(metric: Metric, labels: readonly string[], suffix?: string): string {
  const pairs = metric.labels.map((name, i) => `${name}=${labelValue(labels[i] ?? "")}`).join(",");
  return suffix === undefined ? `${metric.name}|${pairs}` : `${metric.name}|${pairs}|${suffix}`;
}

/** Label values as fields can hold them: bounded, without the separators. */
export function labelValue(value: string): string {
  return value.replace(/[|,=\n"\\]/g, "_").slice(0, 128) || "none";
}
