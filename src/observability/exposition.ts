/**
 * The global totals in the Prometheus text format (version 0.0.4): counters and
 * histograms from the metrics hash, gauges from what Redis holds now (circuits,
 * the audit queue, the last scheduled audit). One pipeline reads it all; the same
 * text is served at /metrics and pushed by the cron.
 */

import type { Redis } from "@upstash/redis/cloudflare";
import { auditRunKey } from "../audit/scheduled-audit.ts";
import { queueAgeSeconds, queueKey } from "../audit/sink.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Config } from "../config/env.ts";
import { healthKeys, modelTarget, providerTarget, stateOf } from "../reliability/breakers.ts";
import type { Tracked } from "../storage/availability.ts";
import { numericHash } from "../storage/redis.ts";
import { countersKey } from "./metrics.ts";
import { GAUGES, METRICS, type Metric } from "./series.ts";

/** Everything the exposition needs, read in one pipeline. */
export type TotalsDeps = { config: Config; redis: Pick<Redis, "pipeline"> | undefined; stores: { tracked: Tracked } };

export async function readTotals({ config, redis, stores }: TotalsDeps): Promise<Totals> {
  if (redis === undefined) throw new Error("metrics need Redis (UPSTASH_REDIS_REST_URL)");
  const keys = healthKeys(config);
  const pipeline = redis.pipeline();
  pipeline.hgetall(countersKey(config));
  pipeline.hgetall(keys.states);
  pipeline.hgetall(keys.transitions);
  pipeline.llen(queueKey(config));
  pipeline.lindex(queueKey(config), 0);
  pipeline.hgetall(auditRunKey(config.keyPrefix));
  const [counters, states, transitions, depth, oldest, audit] = await stores.tracked("redis", () =>
    pipeline.exec<[unknown, unknown, unknown, number, string | null, unknown]>(),
  );
  const configured = [...config.providers.values()].filter((provider) => provider.configured).map((provider) => provider.id);
  return {
    // Every configured provider and model has a circuit, closed until Redis says otherwise (LiteLLM's deployment state).
    targets: [
      ...configured.map(providerTarget),
      ...config.registry.filter((model) => configured.includes(model.provider)).map((model) => modelTarget(model.id)),
    ],
    counters: numericHash(counters),
    openUntil: numericHash(states),
    transitions: numericHash(transitions),
    queueDepth: depth,
    queueAgeSeconds: queueAgeSeconds(oldest),
    audit: numericHash(audit),
  };
}

export type Totals = {
  /** Every circuit to report, as `provider:id` and `model:id`. */
  targets: string[];
  counters: Map<string, number>;
  openUntil: Map<string, number>;
  transitions: Map<string, number>;
  queueDepth: number;
  queueAgeSeconds: number;
  /** The last scheduled audit: ok, ran_at, and a count per problem kind and SLO. */
  audit: Map<string, number>;
};

export function renderPrometheus(totals: Totals, now = Date.now()): string {
  const lines: string[] = [];
  const head = (metric: Metric): void => {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`);
  };
  const byMetric = groupByMetric(totals.counters);
  for (const metric of Object.values(METRICS) as Metric[]) {
    head(metric);
    const series = byMetric.get(metric.name) ?? new Map<string, Map<string, number>>();
    if (metric.labels.length === 0 && series.size === 0) lines.push(`${metric.name} 0`);
    for (const [labels, values] of series) {
      if (metric.type === "histogram") lines.push(...histogram(metric, labels, values));
      else lines.push(`${metric.name}${braces(labels)} ${scaled(metric, values.get("") ?? 0)}`);
    }
  }
  const records = totals.counters.get(`${METRICS.records.name}|`) ?? 0;
  const compliant = totals.counters.get(`${METRICS.compliant.name}|`) ?? 0;
  head(GAUGES.compliance);
  lines.push(`${GAUGES.compliance.name} ${records === 0 ? 1 : compliant / records}`);
  const { input, cache_read: read } = tokensByClass(byMetric);
  head(GAUGES.cacheReadRatio);
  lines.push(`${GAUGES.cacheReadRatio.name} ${cacheReadRatio(read, input)}`);
  head(GAUGES.breakerState);
  for (const target of new Set([...totals.targets, ...totals.openUntil.keys()])) {
    const state = stateOf(totals.openUntil, target, now);
    lines.push(`${GAUGES.breakerState.name}${targetLabels(target)} ${state === "closed" ? 0 : state === "half_open" ? 1 : 2}`);
  }
  head(GAUGES.breakerTransitions);
  for (const [key, n] of totals.transitions) {
    const [target, state] = key.split("|");
    lines.push(`${GAUGES.breakerTransitions.name}${targetLabels(target!, `,state="${escapeLabel(state!)}"`)} ${n}`);
  }
  head(GAUGES.queueDepth);
  lines.push(`${GAUGES.queueDepth.name} ${totals.queueDepth}`);
  head(GAUGES.queueAge);
  lines.push(`${GAUGES.queueAge.name} ${totals.queueAgeSeconds.toFixed(3)}`);
  if (totals.audit.has("ran_at")) {
    head(GAUGES.auditOk);
    lines.push(`${GAUGES.auditOk.name} ${totals.audit.get("ok") ?? 0}`);
    head(GAUGES.auditLastRun);
    lines.push(`${GAUGES.auditLastRun.name} ${totals.audit.get("ran_at")}`);
    head(GAUGES.auditProblems);
    for (const [key, n] of totals.audit) if (key.startsWith("problem:")) lines.push(`${GAUGES.auditProblems.name}{kind="${escapeLabel(key.slice(8))}"} ${n}`);
    head(GAUGES.sloOk);
    for (const [key, n] of totals.audit) if (key.startsWith("slo:")) lines.push(`${GAUGES.sloOk.name}{slo="${escapeLabel(key.slice(4))}"} ${n}`);
  }
  lines.push(`# tiergate constitutional hash ${CONSTITUTIONAL_HASH}`);
  return `${lines.join("\n")}\n`;
}

/** What the dashboard draws, from the same totals: per-tier requests, overhead buckets, cache results, money, circuits. */
export function summarise(totals: Totals, now = Date.now()) {
  const byMetric = groupByMetric(totals.counters);
  const labelsOf = (labels: string): Record<string, string> =>
    Object.fromEntries(
      labels
        .split(",")
        .filter(Boolean)
        .map((pair) => pair.split("=") as [string, string]),
    );
  const requestsByTier: Record<string, number> = {};
  const cache: Record<string, number> = {};
  for (const [labels, values] of byMetric.get(METRICS.requests.name) ?? []) {
    const { tier = "none", cache: result = "BYPASS" } = labelsOf(labels);
    requestsByTier[tier] = (requestsByTier[tier] ?? 0) + (values.get("") ?? 0);
    cache[result] = (cache[result] ?? 0) + (values.get("") ?? 0);
  }
  const overhead = new Map<string, number>();
  for (const values of (byMetric.get(METRICS.overhead.name) ?? new Map<string, Map<string, number>>()).values()) {
    for (const [suffix, n] of values) if (suffix.startsWith("le=")) overhead.set(suffix.slice(3), (overhead.get(suffix.slice(3)) ?? 0) + n);
  }
  let cumulative = 0;
  const buckets = [...METRICS.overhead.buckets, Number.POSITIVE_INFINITY].map((bound): [number, number] => {
    cumulative += overhead.get(Number.isFinite(bound) ? String(bound) : "+Inf") ?? 0;
    return [bound, cumulative];
  });
  const tokens = tokensByClass(byMetric);
  const total = (metric: Metric): number => [...(byMetric.get(metric.name)?.values() ?? [])].reduce((sum, values) => sum + (values.get("") ?? 0), 0) / 1e6;
  return {
    at: now,
    requests_by_tier: requestsByTier,
    // JSON has no Infinity: the last bucket's bound travels as null and means +Inf.
    overhead_buckets: buckets.map(([bound, n]) => [Number.isFinite(bound) ? bound : null, n]),
    cache,
    // Input and output, and the classes within them: what the page's token figures and chart draw.
    tokens,
    cache_read_ratio: cacheReadRatio(tokens.cache_read, tokens.input),
    spend_usd: total(METRICS.spend),
    savings_usd: total(METRICS.savings),
    circuits: [...new Set([...totals.targets, ...totals.openUntil.keys()])].map((target) => ({
      target,
      state: stateOf(totals.openUntil, target, now),
    })),
  };
}

/** Tokens in all, by direction and by class (each class a part of its direction). */
export function tokensByClass(byMetric: ReturnType<typeof groupByMetric>) {
  const sum = (metric: Metric, label: string, value: string): number => {
    let n = 0;
    for (const [labels, values] of byMetric.get(metric.name) ?? []) if (labels.startsWith(`${label}=${value},`)) n += values.get("") ?? 0;
    return n;
  };
  return {
    input: sum(METRICS.tokens, "direction", "input"),
    output: sum(METRICS.tokens, "direction", "output"),
    cache_read: sum(METRICS.tokenClasses, "class", "cache_read"),
    cache_write: sum(METRICS.tokenClasses, "class", "cache_write"),
    cache_write_1h: sum(METRICS.tokenClasses, "class", "cache_write_1h"),
    reasoning: sum(METRICS.tokenClasses, "class", "reasoning"),
  };
}

/** Cache reads over input tokens; 0 before any input was counted. */
export const cacheReadRatio = (read: number, input: number): number => (input === 0 ? 0 : read / input);

/** metric name → label part → suffix ("" for a plain series, `le=…`, `sum`, `count`) → value. */
export function groupByMetric(counters: Map<string, number>): Map<string, Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, Map<string, number>>>();
  for (const [key, value] of counters) {
    const [name, labels = "", suffix = ""] = key.split("|");
    const series = out.get(name!) ?? new Map<string, Map<string, number>>();
    const values = series.get(labels) ?? new Map<string, number>();
    values.set(suffix, (values.get(suffix) ?? 0) + value);
    series.set(labels, values);
    out.set(name!, series);
  }
  return out;
}

function histogram(metric: Metric, labels: string, values: Map<string, number>): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  for (const bound of [...metric.buckets!, "+Inf"]) {
    cumulative += values.get(`le=${bound}`) ?? 0;
    lines.push(`${metric.name}_bucket${braces(labels, `le="${bound}"`)} ${cumulative}`);
  }
  lines.push(`${metric.name}_sum${braces(labels)} ${scaled(metric, values.get("sum") ?? 0)}`);
  lines.push(`${metric.name}_count${braces(labels)} ${values.get("count") ?? 0}`);
  return lines;
}

/** `tier=3,model=x` as `{tier="3",model="x"}`, with `extra` appended. */
function braces(labels: string, extra?: string): string {
  const pairs = labels === "" ? [] : labels.split(",").map((pair) => `${pair.slice(0, pair.indexOf("="))}="${escapeLabel(pair.slice(pair.indexOf("=") + 1))}"`);
  if (extra !== undefined) pairs.push(extra);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function targetLabels(target: string, extra = ""): string {
  const at = target.indexOf(":");
  return `{kind="${escapeLabel(target.slice(0, at))}",target="${escapeLabel(target.slice(at + 1))}"${extra}}`;
}

/** A series' label part (`tier=3,model=x`) as pairs. */
export const labelPairs = (labels: string): [string, string][] =>
  labels === "" ? [] : labels.split(",").map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]);

const scaled = (metric: Metric, value: number): string => (metric.unit === "micro" ? String(value / 1e6) : String(value));
const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
