/**
 * Metrics counted across the whole edge: each audit record becomes a handful of
 * integer increments, summed in the isolate, and sent to one Redis hash by one Lua
 * call in the after-response batch that already carries the record (no round trip
 * on the request path). Failure policy: increments Redis did not take stay in the
 * isolate and go with the next batch; the series are few and bounded, so what waits
 * is bounded too. Without Redis nothing is counted (an isolate's own counts would
 * mean nothing), and /metrics says so.
 */
import type { AuditRecord } from "../audit/record.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import { cheapestOf, findModel, type Model } from "../config/registry.ts";
import { costUsd } from "../providers/usage.ts";
import { redisKey } from "../storage/redis.ts";
import { field, METRICS, type Metric } from "./series.ts";

/** KEYS[1]: the counters hash; ARGV: field, increment pairs. */
export const METRICS_SCRIPT = `
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2`;

export const countersKey = (config: Config): string => redisKey(config, "metrics", "counters");

/** Increments waiting for Redis, per field. */
const pendingFor = perConfig((): Map<string, number> => new Map());

/** How many series wait in this isolate for Redis: bounded by the metric set's label values, not by traffic. */
export const pendingSeries = (config: Config): number => pendingFor(config).size;

/** What a request did, beyond its record, that the metrics need. */
export type Extras = { firstTokenMs?: number | undefined };

/**
 * Adds the record's increments to what this isolate will send; `sign: -1` takes them
 * back (a strict-mode answer whose record found no durable home is answered again as
 * a refusal, and only the refusal counts).
 */
export function count(config: Config, record: AuditRecord, extras: Extras = {}, sign: 1 | -1 = 1): void {
  if (config.redis === undefined || !config.metricsEnabled) return;
  const pending = pendingFor(config);
  const add = (name: string, by: number): void => {
    if (by !== 0) pending.set(name, (pending.get(name) ?? 0) + sign * by);
  };
  const observe = (metric: Metric, labels: string[], seconds: number): void => {
    const le = metric.buckets!.find((bound) => seconds <= bound);
    add(field(metric, labels, `le=${le ?? "+Inf"}`), 1);
    add(field(metric, labels, "sum"), Math.round(seconds * 1e6));
    add(field(metric, labels, "count"), 1);
  };
  const tier = record.tier === null ? "none" : String(record.tier);
  const model = record.model ?? "none";
  const provider = record.provider ?? "none";
  const cache = record.cache_status;
  add(field(METRICS.requests, [tier, model, provider, String(record.http_status), cache]), 1);
  observe(METRICS.duration, [tier, cache], record.latency_ms / 1000);
  observe(METRICS.overhead, [cache], record.overhead_ms / 1000);
  if (record.upstream_ms !== null && cache !== "HIT") observe(METRICS.upstream, [provider], record.upstream_ms / 1000);
  if (extras.firstTokenMs !== undefined) observe(METRICS.firstToken, [provider], extras.firstTokenMs / 1000);
  const input = Number(record.prompt_tokens ?? 0);
  const output = Number(record.completion_tokens ?? 0);
  add(field(METRICS.tokens, ["input", tier, model, provider]), input);
  add(field(METRICS.tokens, ["output", tier, model, provider]), output);
  const micros = Math.round((record.cost_usd ?? 0) * 1e6);
  add(field(METRICS.spend, [tier, model, provider]), micros);
  const reference = referenceModel(config);
  if (record.http_status < 400 && reference !== undefined && (input > 0 || output > 0)) {
    add(field(METRICS.savings, [tier]), Math.round(costUsd(reference, input, output) * 1e6) - micros);
  }
  const attempts = record.attempts ?? [];
  for (const [i, attempt] of attempts.entries()) {
    const attemptProvider = findModel(config.registry, attempt.model)?.provider ?? "none";
    add(field(METRICS.attempts, [attemptProvider, attempt.model, attempt.outcome]), 1);
    if (i > 0 && attempts[i - 1]!.model === attempt.model) add(field(METRICS.retries, [attemptProvider, attempt.model]), 1);
  }
  if (attempts.length > 0 && attempts.at(-1)!.outcome === "ok" && attempts.at(-1)!.model !== attempts[0]!.model) add(field(METRICS.fallbacks, [tier]), 1);
  add(field(METRICS.records, []), 1);
  if (record.constitutional_hash === CONSTITUTIONAL_HASH) add(field(METRICS.compliant, []), 1);
}

/**
 * The increments to send now, as the script's arguments, and a way to put them back
 * if Redis does not take them; `undefined` when there are none.
 */
export function takeIncrements(config: Config): { keys: string[]; args: string[]; putBack(): void } | undefined {
  const pending = pendingFor(config);
  if (pending.size === 0) return undefined;
  const taken = [...pending];
  pending.clear();
  return {
    keys: [countersKey(config)],
    args: taken.flatMap(([name, by]) => [name, String(by)]),
    putBack: () => {
      for (const [name, by] of taken) pending.set(name, (pending.get(name) ?? 0) + by);
    },
  };
}

/** "Always the top tier": the cheapest model of tier 5, the price every saving is measured against. */
const referenceModel = perConfig((config): Model | undefined => cheapestOf(config.registry.filter((model) => model.tier === 5)));
