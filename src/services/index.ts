/**
 * The isolate's services: every client and every piece of state that outlives a
 * request, built once per parsed config (so once per isolate) and handed to handlers,
 * middleware and crons on the context. Modules take the narrow part they use; none
 * looks a service up for itself, and none keeps state at module level but this one.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { type AuditSigner, createAuditSigner } from "../audit/record.ts";
import { type AuditSink, createAuditSink } from "../audit/sink.ts";
import { createResponseCache, type ResponseCache } from "../cache/response-cache.ts";
import { createSessionStore, type SessionStore } from "../cache/session-store.ts";
import { type Bindings, type Config, parseConfig } from "../config/env.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { type Batcher, createBatcher } from "../pipeline/after-response.ts";
import { type Breakers, createBreakers } from "../reliability/breakers.ts";
import { type AdminKey, createAdminKey } from "../security/admin-key.ts";
import { type Allowances, createAllowances } from "../security/allowances.ts";
import { type Budgets, createBudgets } from "../security/budgets.ts";
import { type CredentialVault, createCredentialVault } from "../security/credential-vault.ts";
import { createFailedChecks, type FailedChecks } from "../security/failed-checks.ts";
import { createKeyDirectory, type KeyDirectory } from "../security/key-directory.ts";
import { createLimiter, type Limiter } from "../security/limits.ts";
import { createStoreHealth, type StoreHealth } from "../storage/availability.ts";
import { createSql, type Sql } from "../storage/postgres.ts";
import { createRedis } from "../storage/redis.ts";
import { createResponseCopies, type ResponseCopies } from "../surfaces/openai-responses/copies.ts";

export type Services = {
  config: Config;
  clock: () => number;
  stores: StoreHealth;
  /** Absent when UPSTASH_REDIS_REST_URL is not set. */
  redis: Redis | undefined;
  /** Absent when DATABASE_URL is not set. */
  sql: Sql | undefined;
  /** Absent when AUDIT_HMAC_KEY is not set. */
  signer: AuditSigner | undefined;
  responseCache: ResponseCache;
  /** What routing remembers of each session: its model and when its cache expires. */
  sessions: SessionStore;
  /** Stored responses' copies, in the isolate and in Redis, in front of their rows. */
  responseCopies: ResponseCopies;
  keys: KeyDirectory;
  /** Tenants' own provider credentials, opened in the isolate (security/credential-vault.ts). */
  credentials: CredentialVault;
  failedChecks: FailedChecks;
  adminKey: AdminKey;
  limiter: Limiter;
  allowances: Allowances;
  budgets: Budgets;
  breakers: Breakers;
  auditSink: AuditSink;
  metrics: Metrics;
  batcher: Batcher;
};

/** What a middleware or handler finds on the context: the services of its request's config. */
export type ServicesVariables = { services: Services };

/** Builds a fresh set for `config`: tests and scripts that want their own, and `servicesFor`. */
export function buildServices(config: Config, clock: () => number = Date.now): Services {
  const stores = createStoreHealth(clock);
  const { tracked } = stores;
  const { keyPrefix } = config;
  const redis = config.redis === undefined ? undefined : createRedis(config.redis);
  const sql = config.postgres === undefined ? undefined : createSql(config.postgres);
  const signer = config.audit.hmacKey === undefined ? undefined : createAuditSigner(config.audit.hmacKey);
  const breakers = createBreakers({ keyPrefix, settings: config.breaker, redis, tracked, clock });
  const metrics = createMetrics({ keyPrefix, enabled: redis !== undefined && config.metricsEnabled, registry: config.registry });
  const allowances = createAllowances({ keyPrefix, redis, tracked, clock });
  const auditSink = createAuditSink({ keyPrefix, holdLimit: config.audit.holdLimit, signer, redis, sql, tracked });
  return {
    config,
    clock,
    stores,
    redis,
    sql,
    signer,
    responseCache: createResponseCache({ settings: config.cache, keyPrefix, redis, tracked }),
    sessions: createSessionStore({ keyPrefix, redis, tracked, clock }),
    responseCopies: createResponseCopies({ keyPrefix, redis, tracked }),
    keys: createKeyDirectory({ keyPrefix, requireApiKey: config.requireApiKey, redis, sql, tracked, clock }),
    credentials: createCredentialVault(config.providerKeys),
    failedChecks: createFailedChecks({ keyPrefix, perMinute: config.failedKeyChecksPerMinute, redis, tracked, clock }),
    adminKey: createAdminKey(config),
    limiter: createLimiter({ keyPrefix, redis, tracked, clock }),
    allowances,
    budgets: createBudgets({ keyPrefix, redis, tracked }),
    breakers,
    auditSink,
    metrics,
    batcher: createBatcher({ registry: config.registry, redis, tracked, auditSink, metrics, breakers, allowances }),
  };
}

/**
 * The one module-level state of the worker: the services of each set of bindings,
 * whose config is parsed on first use. Workers hand an isolate the same bindings
 * object for its life, so this parses and builds once per isolate; two sets of
 * bindings in one isolate (tests) never share a cache, a limiter or a batch (only
 * Neon's HTTP endpoint, a global of its driver: storage/postgres.ts).
 * @throws the config's error when the bindings are misconfigured (parsed again next time).
 */
const built = new WeakMap<object, Services>();

export function servicesFor(bindings: Bindings): Services {
  let services = built.get(bindings);
  if (services === undefined) {
    services = buildServices(parseConfig(bindings));
    built.set(bindings, services);
  }
  return services;
}

/** The probes' view of the services: their results reach the breakers through the after-response pipeline's script. */
export function probeDeps(services: Services): Services & { report: Batcher["sendReports"] } {
  return { ...services, report: services.batcher.sendReports };
}
