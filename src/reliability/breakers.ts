/**
 * Circuit breakers every isolate shares: per model and per provider, kept in Redis
 * (see breaker-script.ts), read by each isolate at most once per HEALTH_CACHE_MS.
 * Outcomes reach Redis with the audit record's batch, so the request path pays no
 * round trip for them. Failure policy: without Redis (unconfigured or down) the last
 * state read stays in force and nothing new is learned; every request still gets its
 * retries and fallbacks, which is what serves it.
 */

import type { Redis } from "@upstash/redis/cloudflare";
import type { BreakerSettings } from "../config/upstream.ts";
import { ApiError } from "../http/errors.ts";
import type { Attempt } from "../providers/attempts.ts";
import { NO_HEALTH, type RoutingHealth } from "../routing/pick.ts";
import { findModel, type Model } from "../routing/registry.ts";
import { type Caller, ownerOf } from "../security/caller.ts";
import type { Tracked } from "../storage/availability.ts";
import { numericHash, redisKey } from "../storage/redis.ts";

export type BreakerState = "closed" | "open" | "half_open";
export const modelTarget = (id: string): string => `model:${id}`;
export const providerTarget = (id: string): string => `provider:${id}`;
/** A caller's own circuit (breaker-script.ts): its requests alone are refused while it is open. */
export const callerTarget = (owner: string): string => `caller:${owner}`;
/** A tenant's own credential for a provider (`owner`: `breakerOwner`'s): its failures and its circuit are that tenant's alone. */
export const credentialTarget = (owner: string, provider: string): string => `credential:${owner}:${provider}`;

/** The shared state as an isolate last read it. */
export type HealthState = {
  /** Target → the time (ms) its circuit stays open until; absent: closed. */
  openUntil: Map<string, number>;
  /** Target → latency EWMA in ms (successful calls: time to the answer's headers for streams, to the whole answer otherwise). */
  latencyMs: Map<string, number>;
};

export const healthKeys = (config: { keyPrefix: string }) => ({
  states: redisKey(config, "health", "breakers"),
  latency: redisKey(config, "health", "latency"),
  transitions: redisKey(config, "health", "transitions"),
  counts: redisKey(config, "health", "counts:"),
  probes: redisKey(config, "health", "probes"),
});

export function breakersOn(config: { breaker: BreakerSettings; redis: unknown }): boolean {
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

/** The script's arguments for a batch of reports (see breaker-script.ts). */
type BreakerCall = { keys: string[]; args: string[] };

/**
 * A call's outcome as a breaker sees it, and whose call it was (`owner`: the caller's
 * tenant, else its key; '' for none, see breaker-script.ts).
 */
export type Report = { target: string; outcome: "ok" | "fail" | "open" | "close"; ms: number; owner?: string };

/** Whose request a report comes from, as the breakers tell callers apart: the tenant, else the key. */
export function breakerOwner(caller: Caller | undefined): string {
  if (caller === undefined) return "";
  const { tenant, key } = ownerOf(caller);
  return tenant !== null ? `tenant:${tenant}` : `key:${key}`;
}

export type Breakers = {
  /**
   * The isolate's view of the shared state. The isolate's first request reads it from
   * Redis and waits; after that, the request that finds it older than the cache time
   * starts the read in the background, handed to `defer` (its `waitUntil`), and goes on
   * with the view it has: no request waits on the circuit read. Requests that arrive
   * during a read use the view it replaces. Without `defer`, a stale view is read and
   * waited for.
   */
  current(defer?: (work: Promise<unknown>) => void): Promise<HealthState | undefined>;
  /**
   * The view as the decision sees it for one request. A half-open circuit lets one
   * request per isolate per cache time through as its trial; the others skip it.
   * `own`: the caller (`breakerOwner`) and the providers it calls on its own credentials,
   * whose own circuits it is also subject to.
   */
  routing(state: HealthState | undefined, own?: { owner: string; providers: readonly string[] }): RoutingHealth;
  /** The script's arguments for a batch of reports; `undefined` when there is nothing to send. */
  call(reports: readonly Report[]): BreakerCall | undefined;
  /**
   * Why this caller's own circuit refuses it now (its requests failed on models other
   * callers are served by), or undefined. Its trial after the cool-down goes through.
   */
  callerRefusal(state: HealthState | undefined, caller: Caller | undefined): ApiError | undefined;
  /** Applies the transitions the script made to this isolate's view at once, and logs each. */
  noteTransitions(changed: unknown): void;
};

const EWMA_WEIGHT = 0.2;

export function createBreakers(deps: {
  keyPrefix: string;
  settings: BreakerSettings;
  redis: Pick<Redis, "pipeline"> | undefined;
  tracked: Tracked;
  clock: () => number;
}): Breakers {
  const { settings, redis, tracked, clock } = deps;
  const on = breakersOn({ breaker: settings, redis });
  const keys = healthKeys(deps);
  const view: { state: HealthState | undefined; readAt: number; reading: boolean; trials: Map<string, number> } = {
    state: undefined,
    readAt: 0,
    reading: false,
    trials: new Map(),
  };
  return {
    async current(defer) {
      if (!on) return undefined;
      if (clock() - view.readAt < settings.viewTtlMs || view.reading) return view.state;
      view.reading = true;
      const read = readHealthState(redis!, deps, tracked)
        .then((state) => {
          view.state = state;
        })
        // Redis is down: the last view stays in force; ask again after the cache time
        .catch(() => {})
        .finally(() => {
          view.readAt = clock();
          view.reading = false;
        });
      if (defer !== undefined && view.readAt > 0) defer(read);
      else await read;
      return view.state;
    },
    routing(state, own) {
      if (state === undefined) return NO_HEALTH;
      const now = clock();
      const decided = new Map<string, string | undefined>();
      const verdict = (target: string): string | undefined => {
        if (decided.has(target)) return decided.get(target);
        let why: string | undefined;
        const phase = stateOf(state.openUntil, target, now);
        if (phase === "open") why = `circuit open for ${Math.ceil((state.openUntil.get(target)! - now) / 1000)} s more`;
        else if (phase === "half_open") {
          if (now - (view.trials.get(target) ?? 0) < settings.viewTtlMs) why = "circuit half-open, trial under way";
          else view.trials.set(target, now);
        }
        decided.set(target, why);
        return why;
      };
      return {
        blocked: (model) => {
          if (own !== undefined && own.owner !== "" && own.providers.includes(model.provider)) {
            const mine = verdict(credentialTarget(own.owner, model.provider));
            if (mine !== undefined) return `the tenant's own credential for ${model.provider}: ${mine}`;
          }
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
    },
    call(reports) {
      if (!on || reports.length === 0) return undefined;
      const { failures, errorRatePct, windowMs, minRequests, cooldownMs } = settings;
      const args = [clock(), failures, errorRatePct, windowMs, minRequests, cooldownMs, EWMA_WEIGHT].map(String);
      for (const report of reports) args.push(report.target, report.outcome, String(Math.round(report.ms)), report.owner ?? "");
      const perReport = reports.flatMap((report) => [`${keys.counts}${report.target}`, `${keys.counts}caller:${report.owner || report.target}`]);
      return { keys: [keys.states, keys.latency, keys.transitions, ...perReport], args };
    },
    callerRefusal(state, caller) {
      const owner = breakerOwner(caller);
      const until = owner === "" ? undefined : state?.openUntil.get(callerTarget(owner));
      if (until === undefined || until <= clock()) return undefined;
      const seconds = Math.max(1, Math.ceil((until - clock()) / 1000));
      const whose = owner.startsWith("tenant:") ? "This key's tenant's" : "This key's";
      return new ApiError(
        429,
        `${whose} recent requests failed on several models that other callers are being served by, so its requests are refused for ${seconds} s: what it sends makes the providers fail. Nobody else's routing changed.`,
        { type: "rate_limit_error", code: "caller_circuit_open", headers: { "retry-after": String(seconds), "x-should-retry": "true" } },
      );
    },
    noteTransitions(changed) {
      if (!Array.isArray(changed)) return;
      for (let i = 0; i + 2 < changed.length; i += 3) {
        const target = String(changed[i]);
        const to = String(changed[i + 1]);
        const until = Number(changed[i + 2]);
        if (to === "open") view.state?.openUntil.set(target, until);
        else view.state?.openUntil.delete(target);
        console.log(
          JSON.stringify({ breaker: target, state: to, at: new Date().toISOString(), ...(to === "open" ? { until: new Date(until).toISOString() } : {}) }),
        );
      }
    },
  };
}

/** Both hashes in one pipeline. */
async function readHealthState(redis: Pick<Redis, "pipeline">, config: { keyPrefix: string }, tracked: Tracked): Promise<HealthState> {
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

/** Failures that say the provider itself is unreachable (no connection), not that one model misbehaved: no content causes them. */
const PROVIDER_DOWN = new Set(["upstream_unreachable"]);
/**
 * Failures the client caused, or that end its own request: no breaker learns from them. A
 * prompt too long for the model, or one its filter refused, or a field an adapter cannot send
 * (`invalid_value`) says nothing of the model's health: counted, a tenant's too-long prompts
 * would open its own credential's circuit, and two tenants' a shared one.
 */
const NOT_THE_MODEL = new Set(["upstream_invalid_request", "client_disconnected", "context_length_exceeded", "content_filtered", "invalid_value"]);

/**
 * What a finished request's attempts tell the breakers, each report naming whose request
 * it was (`owner`), so that one caller's traffic cannot open everyone's circuits (the
 * script counts a shared circuit's failures only from two callers or more):
 * - a request reports at most one failure per circuit, however many times it retried;
 *   a time-out counts like a 5xx (a prompt can make a model run past any limit); only a
 *   provider that cannot be reached, which no content causes, counts every call, and
 *   against the provider too;
 * - a stream that broke after its first byte began well and failed all the same: a
 *   failure of the model that served it;
 * - a call on the tenant's own credential reports to that credential's circuit alone.
 */
export function reportsFrom(
  registry: readonly Model[],
  attempts: readonly Attempt[],
  brokeMidStream: boolean,
  owner = "",
  /** The providers the request called on its tenant's own credentials: reported to that tenant's credential circuit alone. */
  ownCredentials: readonly string[] = [],
): Report[] {
  const reports: Report[] = [];
  const failed = new Set<string>();
  /** `reach`: an unreachable call, which no content causes, counts every time. */
  const report = (target: string, ok: boolean, ms: number, reach = false): void => {
    if (!ok && !reach && failed.has(target)) return;
    if (!ok) failed.add(target);
    reports.push({ target, outcome: ok ? "ok" : "fail", ms, owner });
  };
  for (const [i, attempt] of attempts.entries()) {
    if (NOT_THE_MODEL.has(attempt.outcome)) continue;
    const provider = findModel(registry, attempt.model)?.provider;
    const ok = attempt.outcome === "ok" && !(brokeMidStream && i === attempts.length - 1);
    const reach = PROVIDER_DOWN.has(attempt.outcome);
    // A call on the tenant's own credential tells nothing of the router's: no shared circuit hears it.
    if (provider !== undefined && owner !== "" && ownCredentials.includes(provider)) {
      report(credentialTarget(owner, provider), ok, -1);
      continue;
    }
    report(modelTarget(attempt.model), ok, ok ? attempt.ms : -1, reach);
    if (provider === undefined) continue;
    if (attempt.outcome === "ok") report(providerTarget(provider), true, -1);
    else if (reach) report(providerTarget(provider), false, -1, true);
  }
  return reports;
}
