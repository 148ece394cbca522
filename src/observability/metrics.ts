/**
 * Metrics counted across the whole edge: each finished request becomes a handful of
 * integer increments, summed in the isolate, and sent to one Redis hash by one Lua
 * call in the after-response batch that already carries the record (no round trip
 * on the request path). Failure policy: increments Redis did not take stay in the
 * isolate and go with the next batch; the series are few and bounded, so what waits
 * is bounded too. Without Redis nothing is counted (an isolate's own counts would
 * mean nothing), and /metrics says so.
 */

import type { CacheStatus } from "../cache/policy.ts";
import type { Attempt } from "../providers/attempts.ts";
import { usageMicros } from "../routing/cost.ts";
import { cheapestOf, findModel, type Model } from "../routing/registry.ts";
import { redisKey } from "../storage/redis.ts";
import { field, METRICS, type Metric } from "./series.ts";

/** KEYS[1]: the counters hash; ARGV: field, increment pairs. */
export const METRICS_SCRIPT = `
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2`;

export const countersKey = (config: { keyPrefix: string }): string => redisKey(config, "metrics", "counters");

/** A finished request as the metrics count it: the event the after-response batch hands them. */
export type FinishedRequest = {
  tier: number | null;
  model: string | null;
  provider: string | null;
  status: number;
  cache: CacheStatus;
  latencyMs: number;
  overheadMs: number;
  upstreamMs: number | null;
  /** Streams: when the provider's first event arrived, from the request's start. */
  firstTokenMs: number | undefined;
  promptTokens: number;
  completionTokens: number;
  /** The usage classes: parts of `promptTokens` (the three cache classes) and of `completionTokens` (reasoning). */
  classes: { cacheRead: number; cacheWrite: number; cacheWrite1h: number; reasoning: number };
  costMicros: number;
  attempts: readonly Attempt[];
  /** Its record carries the constitutional hash. */
  compliant: boolean;
};

export type Increments = { keys: string[]; args: string[]; putBack(): void };

export type Metrics = {
  /**
   * Adds the request's increments to what this isolate will send; `sign: -1` takes them
   * back (a strict-mode answer whose record found no durable home is answered again as
   * a refusal, and only the refusal counts).
   */
  count(request: FinishedRequest, sign?: 1 | -1): void;
  /** The increments to send now, and a way to put them back if Redis does not take them; `undefined` when there are none. */
  take(): Increments | undefined;
  /** How many series wait in this isolate for Redis: bounded by the metric set's label values, not by traffic. */
  pendingSeries(): number;
};

export function createMetrics(deps: { keyPrefix: string; enabled: boolean; registry: readonly Model[] }): Metrics {
  const { registry } = deps;
  /** Increments waiting for Redis, per field. */
  const pending = new Map<string, number>();
  /** "Always the top tier": the cheapest model of tier 5, the price every saving is measured against. */
  const reference = cheapestOf(registry.filter((model) => model.tier === 5));
  return {
    count(request, sign = 1) {
      if (!deps.enabled) return;
      const add = (name: string, by: number): void => {
        if (by !== 0) pending.set(name, (pending.get(name) ?? 0) + sign * by);
      };
      const observe = (metric: Metric, labels: string[], seconds: number): void => {
        const le = metric.buckets!.find((bound) => seconds <= bound);
        add(field(metric, labels, `le=${le ?? "+Inf"}`), 1);
        add(field(metric, labels, "sum"), Math.round(seconds * 1e6));
        add(field(metric, labels, "count"), 1);
      };
      const tier = request.tier === null ? "none" : String(request.tier);
      const model = request.model ?? "none";
      const provider = request.provider ?? "none";
      const { cache, promptTokens: input, completionTokens: output, costMicros: micros } = request;
      add(field(METRICS.requests, [tier, model, provider, String(request.status), cache]), 1);
      observe(METRICS.duration, [tier, cache], request.latencyMs / 1000);
      observe(METRICS.overhead, [cache], request.overheadMs / 1000);
      if (request.upstreamMs !== null && cache !== "HIT") observe(METRICS.upstream, [provider], request.upstreamMs / 1000);
      if (request.firstTokenMs !== undefined) observe(METRICS.firstToken, [provider], request.firstTokenMs / 1000);
      add(field(METRICS.tokens, ["input", tier, model, provider]), input);
      add(field(METRICS.tokens, ["output", tier, model, provider]), output);
      const { classes } = request;
      add(field(METRICS.tokenClasses, ["cache_read", tier, model, provider]), classes.cacheRead);
      add(field(METRICS.tokenClasses, ["cache_write", tier, model, provider]), classes.cacheWrite);
      add(field(METRICS.tokenClasses, ["cache_write_1h", tier, model, provider]), classes.cacheWrite1h);
      add(field(METRICS.tokenClasses, ["reasoning", tier, model, provider]), classes.reasoning);
      add(field(METRICS.spend, [tier, model, provider]), micros);
      if (request.status < 400 && reference !== undefined && (input > 0 || output > 0)) {
        // The same classes at the reference's prices: its cache would have read what this one read.
        const usage = {
          promptTokens: input,
          completionTokens: output,
          cacheReadTokens: classes.cacheRead,
          cacheWriteTokens: classes.cacheWrite,
          cacheWrite1hTokens: classes.cacheWrite1h,
        };
        add(field(METRICS.savings, [tier]), usageMicros(reference, usage) - micros);
      }
      const { attempts } = request;
      for (const [i, attempt] of attempts.entries()) {
        const attemptProvider = findModel(registry, attempt.model)?.provider ?? "none";
        add(field(METRICS.attempts, [attemptProvider, attempt.model, attempt.outcome]), 1);
        if (i > 0 && attempts[i - 1]!.model === attempt.model) add(field(METRICS.retries, [attemptProvider, attempt.model]), 1);
      }
      if (attempts.length > 0 && attempts.at(-1)!.outcome === "ok" && attempts.at(-1)!.model !== attempts[0]!.model) add(field(METRICS.fallbacks, [tier]), 1);
      add(field(METRICS.records, []), 1);
      if (request.compliant) add(field(METRICS.compliant, []), 1);
    },
    take() {
      if (pending.size === 0) return undefined;
      const taken = [...pending];
      pending.clear();
      return {
        keys: [countersKey(deps)],
        args: taken.flatMap(([name, by]) => [name, String(by)]),
        putBack: () => {
          for (const [name, by] of taken) pending.set(name, (pending.get(name) ?? 0) + by);
        },
      };
    },
    pendingSeries: () => pending.size,
  };
}
