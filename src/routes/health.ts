/** GET /health: version, constitutional hash, providers, and whether Redis and Postgres answer. */
import type { Context } from "hono";
import { heldRecords } from "../audit/sink.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Config } from "../config/env.ts";
import type { AppEnv } from "../http/app-env.ts";
import { withoutCredentials } from "../security/redact.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor } from "../storage/postgres.ts";
import { redisFor } from "../storage/redis.ts";
import { VERSION } from "../version.ts";

type StoreState = "ok" | "down" | "not configured";

export async function health(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const { providers, registry } = config;
  const [redis, postgres] = await Promise.all([probeRedis(config), probePostgres(config)]);
  const configured = [...providers.values()].filter((provider) => provider.configured);
  const degraded = redis !== "ok" || postgres !== "ok";
  return c.json({
    status: configured.length === 0 ? "unconfigured" : degraded ? "degraded" : "ok",
    version: VERSION,
    constitutional_hash: CONSTITUTIONAL_HASH,
    storage: { redis, postgres },
    cache: redis === "ok" ? "isolate and redis" : "isolate only",
    audit: { mode: config.audit.mode, ...heldRecords() },
    providers: [...providers.values()].map((provider) => ({
      id: provider.id,
      configured: provider.configured,
      base_url: withoutCredentials(provider.baseUrl),
      models: registry.filter((model) => model.provider === provider.id).length,
      ...(provider.configured ? {} : { configure_with: provider.configureWith }),
    })),
  });
}

async function probeRedis(config: Config): Promise<StoreState> {
  const redis = redisFor(config);
  if (redis === undefined) return "not configured";
  return tracked("redis", () => redis.ping()).then(() => "ok", () => "down");
}

async function probePostgres(config: Config): Promise<StoreState> {
  const sql = postgresFor(config);
  if (sql === undefined) return "not configured";
  return tracked("postgres", () => sql("SELECT 1")).then(() => "ok", () => "down");
}
