/**
 * GET /health: `ok`, `degraded` or `unconfigured` for anyone (load balancers, uptime
 * checks); with the admin key, the detail behind it: version, stores, the audit
 * queue's depth and the age of its oldest record, held records, providers.
 */
import type { Context } from "hono";
import { heldRecords, queueKey } from "../audit/sink.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Config } from "../config/env.ts";
import type { AppEnv } from "../http/app-env.ts";
import { isAdmin } from "../security/admin.ts";
import { withoutCredentials } from "../security/redact.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor } from "../storage/postgres.ts";
import { redisFor } from "../storage/redis.ts";
import { VERSION } from "../version.ts";

type StoreState = "ok" | "down" | "not configured";
type AuditQueue = { depth: number; oldest_age_seconds: number } | undefined;

export async function health(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const { providers, registry } = config;
  const [redis, postgres] = await Promise.all([probeRedis(config), probePostgres(config)]);
  const configured = [...providers.values()].filter((provider) => provider.configured);
  const held = heldRecords();
  const stalled = redis.queue !== undefined && redis.queue.oldest_age_seconds > config.audit.queueMaxAgeSeconds;
  const degraded = redis.state !== "ok" || postgres !== "ok" || stalled || held.held > 0 || held.dropped > 0;
  const status = configured.length === 0 ? "unconfigured" : degraded ? "degraded" : "ok";
  c.header("cache-control", "no-store");
  if (!(await isAdmin(c))) return c.json({ status, constitutional_hash: CONSTITUTIONAL_HASH });
  return c.json({
    status,
    version: VERSION,
    constitutional_hash: CONSTITUTIONAL_HASH,
    problems: config.problems,
    storage: { redis: redis.state, postgres },
    cache: redis.state === "ok" ? "isolate and redis" : "isolate only",
    audit: {
      mode: config.audit.mode,
      queue: redis.queue ?? null,
      queue_max_age_seconds: config.audit.queueMaxAgeSeconds,
      flush_stalled: stalled,
      ...held,
    },
    providers: [...providers.values()].map((provider) => ({
      id: provider.id,
      configured: provider.configured,
      base_url: withoutCredentials(provider.baseUrl),
      models: registry.filter((model) => model.provider === provider.id).length,
      ...(provider.configured ? {} : { configure_with: provider.configureWith }),
    })),
  });
}

/** One pipeline: is Redis up, and how deep and how old is the audit queue. */
async function probeRedis(config: Config): Promise<{ state: StoreState; queue: AuditQueue }> {
  const redis = redisFor(config);
  if (redis === undefined) return { state: "not configured", queue: undefined };
  try {
    const pipeline = redis.pipeline();
    pipeline.llen(queueKey(config));
    pipeline.lindex(queueKey(config), 0);
    const [depth, oldest] = await tracked("redis", () => pipeline.exec<[number, string | null]>());
    const ts = oldest === null ? undefined : /"ts":"([^"]+)"/.exec(oldest)?.[1];
    const age = ts === undefined ? 0 : Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
    return { state: "ok", queue: { depth, oldest_age_seconds: Number.isFinite(age) ? age : 0 } };
  } catch {
    return { state: "down", queue: undefined };
  }
}

async function probePostgres(config: Config): Promise<StoreState> {
  const sql = postgresFor(config);
  if (sql === undefined) return "not configured";
  return tracked("postgres", () => sql("SELECT 1")).then(() => "ok", () => "down");
}
