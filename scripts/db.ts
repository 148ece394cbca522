/**
 * What operator scripts connect to: Postgres through Neon's own driver (WebSocket `Pool`,
 * locally through the relay) and Redis through Upstash's REST client. Settings come
 * from the environment; any that is unset is taken from where the local worker takes it:
 * `.dev.vars`, then what `npm run dev` or `npm run stack` recorded in .data/ (its
 * endpoints, the embedded Postgres's dump route, and the secrets it made for what
 * `.dev.vars` does not set).
 */

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { neonConfig, Pool } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis";
import { WebSocket } from "ws";

const DATA_DIR = fileURLToPath(new URL("../.data", import.meta.url));
const DEV_VARS = fileURLToPath(new URL("../.dev.vars", import.meta.url));

/**
 * `.dev.vars` as wrangler reads it: dotenv's format (single, double or backtick quotes,
 * `#` comments, `export`), by Node's own parser of it. An empty value is left out, as
 * if unset.
 */
export function parseDevVars(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(parseEnv(text)).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""));
}

/** This checkout's `.dev.vars`, parsed; empty without one. */
export const devVars = (): Record<string, string> => (existsSync(DEV_VARS) ? parseDevVars(readFileSync(DEV_VARS, "utf8")) : {});

/** What the local worker runs with: the secrets the stack made, `.dev.vars` over them, the stack's endpoints over both. */
export function localSettings(sources: {
  made: Record<string, string>;
  devVars: Record<string, string>;
  stack: Record<string, string>;
}): Record<string, string> {
  return { ...sources.made, ...sources.devVars, ...sources.stack };
}

function localStack(): { settings: Record<string, string>; running: boolean } {
  const read = (file: string): Record<string, unknown> =>
    existsSync(`${DATA_DIR}/${file}`) ? (JSON.parse(readFileSync(`${DATA_DIR}/${file}`, "utf8")) as Record<string, unknown>) : {};
  const stack = read("stack.json") as { bindings?: Record<string, string>; tools?: Record<string, string> };
  const endpoints = { ...stack.bindings, ...stack.tools };
  const settings = localSettings({ made: read("dev-secrets.json") as Record<string, string>, devVars: devVars(), stack: endpoints });
  return { settings, running: stack.bindings !== undefined };
}

/**
 * A setting: the environment's. With no DATABASE_URL in the environment, the script
 * talks to the local stack, and a setting the environment lacks is the local worker's.
 */
export function setting(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  return process.env.DATABASE_URL ? undefined : localStack().settings[name] || undefined;
}

export function requireSetting(name: string): string {
  const value = setting(name);
  if (!value) {
    const local = process.env.DATABASE_URL ? { running: false } : localStack();
    const where = local.running
      ? "the environment, .dev.vars or the running local stack"
      : "the environment or .dev.vars, and no local stack is running (npm run dev or npm run stack starts one)";
    console.error(`${name} is not set in ${where}`);
    process.exit(2);
  }
  return value;
}

/**
 * A Pool for `databaseUrl`. With `NEON_WS_PROXY` (the local relay) it goes through
 * the relay without TLS; without it, straight to Neon's secure WebSocket endpoint.
 */
export function openPool(databaseUrl: string, wsProxy = setting("NEON_WS_PROXY")): Pool {
  neonConfig.webSocketConstructor = WebSocket as unknown as typeof neonConfig.webSocketConstructor;
  if (wsProxy) {
    neonConfig.wsProxy = () => wsProxy;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
  return new Pool({ connectionString: databaseUrl, max: 4 });
}

/** Redis through Upstash's REST API, or `undefined` when none is configured. */
export function openRedis(): Redis | undefined {
  const url = setting("UPSTASH_REDIS_REST_URL");
  const token = setting("UPSTASH_REDIS_REST_TOKEN");
  if (url === undefined || token === undefined) return undefined;
  return new Redis({ url, token, automaticDeserialization: false, enableTelemetry: false, retry: { retries: 2 } });
}

/** The database a script talks to, fit to print: host and database name, no credentials. */
export function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

/**
 * libpq's environment for a connection URL (pg_dump, pg_restore): the password stays
 * out of the command line, where `ps` would show it.
 */
export function libpqEnv(databaseUrl: string): Record<string, string> {
  const url = new URL(databaseUrl);
  const env: Record<string, string> = { PGHOST: url.hostname, PGPORT: url.port || "5432", PGDATABASE: decodeURIComponent(url.pathname.slice(1)) || "postgres" };
  if (url.username) env.PGUSER = decodeURIComponent(url.username);
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode) env.PGSSLMODE = sslmode;
  return env;
}
