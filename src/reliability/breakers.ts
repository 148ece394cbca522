/**
 * Circuit breakers every isolate shares: per model and per provider, kept in Redis
 * (see breaker-script.ts), read by each isolate at most once per HEALTH_CACHE_MS.
 * Outcomes reach Redis with the audit record's batch, so the request path pays no
 * round trip for them. Failure policy: without Redis (unconfigured or down) the last
 * state read stays in force and nothing new is learned; every request still gets its
 * retries and fallbacks, which is what serves it.
 */

import type { AuditRecord } from "../audit/record.ts";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import { findModel, type Model } from "../config/registry.ts";
import { BATCH_SCRIPT, batchCall } from "../pipeline/batch-script.ts";
import { NO_HEALTH, type RoutingHealth } from "../routing/pick.ts";
import { tracked } from "../storage/availability.ts";
import { numericHash, redisFor, redisKey } from "../storage/redis.ts";

export type BreakerState = "closed" | "open" | "half_open";
export const modelTarget = (id: string): string => `model:${id}`;
export const providerTarget = (id: string): string => `provider:${id}`;

/** The shared state as an isolate last read it. */
export type HealthState = {
  /** Target → the time (ms) its circuit stays open until; absent: closed. */
  openUntil: Map<string, number>;
  /** Target → latency EWMA in ms (successful calls: time to the answer's headers for streams, to the whole answer otherwise). */
  latencyMs: Map<string, number>;
};

export const healthKeys = (config: Config) => ({
  states: redisKey(config, "health", "breakers"),
  latency: redisKey(config, "health", "latency"),
  transitions: redisKey(config, "health", "transitions"),
  counts: redisKey(config, "health", "counts:"),
  probes: redisKey(config, "health", "probes"),
});

export function breakersOn(config: Config): boolean {
  return config.breaker.failures > 0 && config.redis !== undefined;
}

/** A circuit's state from the open-until times (none known: closed). */
export function stateOf(openUntil: ReadonlyMap<string, number> | undefined, target: string, now = Date.now()): BreakerState {
  const until = openUntil?.get(target);
  if (until === undefined) return "closed";
  return now < until ? "open" : "half_open";
}

/** A model as a client sees it: its provider's state when that is not closed, else its own. */
export function modelCircuit(
  openUntil: ReadonlyMap<string, number> | undefined,
  model: Model,
  now = Date.now(),
): { state: BreakerState; provider_state: BreakerState } {
  const provider = stateOf(openUntil, providerTarget(model.provider), now);
  return { state: provider === "closed" ? stateOf(openUntil, modelTarget(model.id), now) : provider, provider_state: provider };
}

type View = { state: HealthState | undefined; readAt: number; reading: boolean; trials: Map<string, number> };
const viewFor = perConfig((): View => ({ state: undefined, readAt: 0, reading: false, trials: new Map() }));

/** Both hashes in one pipeline. */
export async function readHealthState(config: Config): Promise<HealthState> {
  const redis = redisFor(config)!;
  const keys = healthKeys(config);
  const pipeline = redis.pipeline();
  pipeline.hgetall(keys.states);
  pipeline.hgetall(keys.latency);
  const [states, latency] = await tracked("redis", () => pipeline.exec<[unknown, unknown]>());
  return healthStateFrom(states, latency);
}

/** The state from HGETALL's answers for the two hashes. */
export function healthStateFrom(states: unknown, latency: unknown): HealthState {
  return { openUntil: numericHash(states), latencyMs: numericHash(latency) };
}

/**
 * The isolate's view of the shared state, never older than the cache time: the
 * request that finds it stale reads Redis (one round trip per isolate per cache
 * time); requests that arrive during that read use the view it replaces.
 */
export async function currentHealth(config: Config): Promise<HealthState | undefined> {
  if (!breakersOn(config)) return undefined;
  const view = viewFor(config);
  if (Date.now() - view.readAt < config.breaker.viewTtlMs || view.reading) return view.state;
  view.reading = true;
  try {
    view.state = await readHealthState(config);
  } catch {
    // Redis is down: the last view stays in force; ask again after the cache time
  } finally {
    view.readAt = Date.now();
    view.reading = false;
  }
  return view.state;
}

/**
 * The view as the decision sees it for one request. A half-open circuit lets one
 * request per isolate per cache time through as its trial; the others skip it.
 */
export function routingHealth(config: Config, state: HealthState | undefined, now = Date.now()): RoutingHealth {
  if (state === undefined) return NO_HEALTH;
  const trials = viewFor(config).trials;
  const decided = new Map<string, string | undefined>();
  const verdict = (target: string): string | undefined => {
    if (decided.has(target)) return decided.get(target);
    let why: string | undefined;
    const phase = stateOf(state.openUntil, target, now);
    if (phase === "open") why = `circuit open for ${Math.ceil((state.openUntil.get(target)! - now) / 1000)} s more`;
    else if (phase === "half_open") {
      if (now - (trials.get(target) ?? 0) < config.breaker.viewTtlMs) why = "circuit half-open, trial under way";
      else trials.set(target, now);
    }
    decided.set(target, why);
    return why;
  };
  return {
    blocked: (model) => {
      const provider = verdict(providerTarget(model.provider));
      return provider === undefined ? verdict(modelTarget(model.id)) : `provider ${model.provider}: ${provider}`;
    },
    latencyMs: (model) => state.latencyMs.get(modelTarget(model.id)),
    random: Math.random,
    retryAfterSeconds: () => {
      const soonest = Math.min(...[...state.openUntil.values()].filter((until) => until > now));
      return Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - now) / 1000)) : 1;
    },
  };
}

/** A call's outcome as a breaker sees it. */
export type Report = { target: string; outcome: "ok" | "fail" | "open" | "close"; ms: number };

/** Failures that say the provider itself is unreachable, not that one model misbehaved. */
const PROVIDER_DOWN = new Set(["upstream_unreachable", "upstream_timeout"]);
/** Failures the client caused, or that end its own request: no breaker learns from them. */
const NOT_THE_MODEL = new Set(["upstream_invalid_request", "client_disconnected"]);

/** What the record's attempts (and a stream that broke after its first byte) tell the breakers. */
export function reportsFrom(config: Config, record: AuditRecord): Report[] {
  const reports: Report[] = [];
  const attempts = record.attempts ?? [];
  // A stream that broke after its first byte began well and failed all the same: a failure of the model.
  const brokeMidStream = record.truncated && record.error_code !== "client_disconnected";
  for (const [i, attempt] of attempts.entries()) {
    if (NOT_THE_MODEL.has(attempt.outcome)) continue;
    const provider = findModel(config.registry, attempt.model)?.provider;
    const ok = attempt.outcome === "ok" && !(brokeMidStream && i === attempts.length - 1);
    reports.push({ target: modelTarget(attempt.model), outcome: ok ? "ok" : "fail", ms: ok ? attempt.ms : -1 });
    if (provider === undefined) continue;
    if (attempt.outcome === "ok") reports.push({ target: providerTarget(provider), outcome: "ok", ms: -1 });
    else if (PROVIDER_DOWN.has(attempt.outcome)) reports.push({ target: providerTarget(provider), outcome: "fail", ms: -1 });
  }
  return reports;
}

/** The script's arguments for a batch of reports; `undefined` when there is nothing to send. */
export function breakerCall(config: Config, reports: readonly Report[], now = Date.now()): { keys: string[]; args: string[] } | undefined {
  if (!breakersOn(config) || reports.length === 0) return undefined;
  const keys = healthKeys(config);
  const { failures, errorRatePct, windowMs, minRequests, cooldownMs } = config.breaker;
  const args = [now, failures, errorRatePct, windowMs, minRequests, cooldownMs, EWMA_WEIGHT].map(String);
  for (const report of reports) args.push(report.target, report.outcome, String(Math.round(report.ms)));
  return { keys: [keys.states, keys.latency, keys.transitions, keys.counts], args };
}

const EWMA_WEIGHT = 0.2;

/** Applies the transitions the script made to this isolate's view at once, and logs each. */
export function noteTransitions(config: Config, changed: unknown): void {
  if (!Array.isArray(changed)) return;
  const state = viewFor(config).state;
  for (let i = 0; i + 2 < changed.length; i += 3) {
    const target = String(changed[i]);
    const to = String(changed[i + 1]);
    const until = Number(changed[i + 2]);
    if (to === "open") state?.openUntil.set(target, until);
    else state?.openUntil.delete(target);
    console.log(
      JSON.stringify({ breaker: target, state: to, at: new Date().toISOString(), ...(to === "open" ? { until: new Date(until).toISOString() } : {}) }),
    );
  }
}

/** Sends reports on their own (the cron's probes; request outcomes ride the after-response batch), through the same script. */
export async function sendReports(config: Config, reports: readonly Report[]): Promise<void> {
  const call = batchCall(breakerCall(config, reports), undefined);
  if (call === undefined) return;
  const changed = await tracked("redis", () => redisFor(config)!.eval(BATCH_SCRIPT, call.keys, call.args));
  noteTransitions(config, changed);
}
