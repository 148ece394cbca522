/**
 * GET /health: `ok`, `degraded` or `down` for anyone (load balancers, uptime checks),
 * with each configured provider's and model's circuit state as Redis holds it (no
 * provider is called). With the admin key, the detail behind it: version, stores, the
 * audit queue, held records, the last probes. `?deep=1` (admin) checks Redis,
 * Postgres and every provider live, and records what the probes found.
 */
import type { Context } from "hono";
import { queueAgeSeconds } from "../audit/sink.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { With } from "../middleware/edge.ts";
import {
  type BreakerState,
  breakersOn,
  type HealthState,
  healthKeys,
  healthStateFrom,
  modelCircuit,
  modelTarget,
  providerTarget,
  stateOf,
} from "../reliability/breakers.ts";
import { type ProbeResult, probeProviders, probesFrom } from "../reliability/probes.ts";
import { withoutCredentials } from "../security/redact.ts";
import { probeDeps, type Services } from "../services/index.ts";
import { VERSION } from "../version.ts";

type StoreState = "ok" | "down" | "not configured";
type AuditQueue = { depth: number; oldest_age_seconds: number } | undefined;
type Shared = { state: StoreState; queue: AuditQueue; health: HealthState | undefined; probes: Map<string, ProbeResult> };

export async function health(c: Context<With>): Promise<Response> {
  const services = c.get("services");
  const { config } = services;
  const authorization = c.req.header("authorization");
  const deep = c.req.query("deep") === "1";
  if (deep) await services.adminKey.requireAdmin(authorization);
  const live = deep ? await probeProviders(probeDeps(services)) : undefined;
  const [shared, postgres] = await Promise.all([readShared(services), probePostgres(services)]);
  if (live !== undefined) for (const result of live) shared.probes.set(result.provider, result);
  const configured = [...config.providers.values()].filter((provider) => provider.configured);
  const served = config.registry.filter((model) => configured.some((p) => p.id === model.provider));
  const openUntil = shared.health?.openUntil;
  const circuit = (target: string): BreakerState => stateOf(openUntil, target);
  const providers = configured.map((provider) => ({ id: provider.id, state: circuit(providerTarget(provider.id)) }));
  const models = served.map((model) => ({ id: model.id, state: modelCircuit(openUntil, model).state }));
  const held = services.auditSink.heldRecords();
  const stalled = shared.queue !== undefined && shared.queue.oldest_age_seconds > config.audit.queueMaxAgeSeconds;
  const failingProbe = [...shared.probes.values()].some((probe) => !probe.ok);
  const storesDegraded = shared.state !== "ok" || postgres !== "ok" || stalled || held.held > 0 || held.dropped > 0;
  const status =
    models.length === 0 || models.every((model) => model.state === "open")
      ? "down"
      : storesDegraded || failingProbe || models.some((model) => model.state !== "closed")
        ? "degraded"
        : "ok";
  c.header("cache-control", "no-store");
  const summary = { status, constitutional_hash: CONSTITUTIONAL_HASH, providers, models };
  if (!deep && !(await services.adminKey.isAdmin(authorization))) return c.json(summary);
  return c.json({
    ...summary,
    version: VERSION,
    problems: config.problems,
    storage: { redis: shared.state, postgres },
    cache: shared.state === "ok" ? "isolate and redis" : "isolate only",
    breakers: breakersOn(config) ? "on" : config.redis === undefined ? "off: needs Redis" : "off: BREAKER_FAILURES=0",
    // What this isolate keeps in memory, each with its bound: nothing grows with traffic while a store is away.
    isolate: {
      audit_held: held.held,
      audit_hold_limit: config.audit.holdLimit,
      metrics_pending_series: services.metrics.pendingSeries(),
      cache_entries: services.responseCache.localEntries(),
      cache_max_entries: config.cache.localMaxEntries,
    },
    audit: {
      mode: config.audit.mode,
      queue: shared.queue ?? null,
      queue_max_age_seconds: config.audit.queueMaxAgeSeconds,
      flush_stalled: stalled,
      ...held,
    },
    providers: [...config.providers.values()].map((provider) => ({
      id: provider.id,
      configured: provider.configured,
      base_url: withoutCredentials(provider.baseUrl),
      models: config.registry.filter((model) => model.provider === provider.id).length,
      ...(provider.configured
        ? { state: circuit(providerTarget(provider.id)), probe: shared.probes.get(provider.id) ?? null }
        : { configure_with: provider.configureWith }),
    })),
    models: served.map((model, i) => ({ ...models[i]!, latency_ewma_ms: shared.health?.latencyMs.get(modelTarget(model.id)) ?? null })),
  });
}

/** One pipeline: is Redis up, how deep and how old is the audit queue, and the circuits and probes. */
async function readShared({ config, redis, stores, auditSink }: Services): Promise<Shared> {
  if (redis === undefined) return { state: "not configured", queue: undefined, health: undefined, probes: new Map() };
  const keys = healthKeys(config);
  try {
    const pipeline = redis.pipeline();
    pipeline.llen(auditSink.queueKey);
    pipeline.lindex(auditSink.queueKey, 0);
    pipeline.hgetall(keys.states);
    pipeline.hgetall(keys.latency);
    pipeline.hgetall(keys.probes);
    const [depth, oldest, states, latency, probes] = await stores.tracked("redis", () => pipeline.exec<[number, string | null, unknown, unknown, unknown]>());
    return {
      state: "ok",
      queue: { depth, oldest_age_seconds: Math.round(queueAgeSeconds(oldest)) },
      health: healthStateFrom(states, latency),
      probes: probesFrom(probes),
    };
  } catch {
    return { state: "down", queue: undefined, health: undefined, probes: new Map() };
  }
}

async function probePostgres({ sql, stores }: Services): Promise<StoreState> {
  if (sql === undefined) return "not configured";
  return stores
    .tracked("postgres", () => sql("SELECT 1"))
    .then(
      () => "ok",
      () => "down",
    );
}
