/**
 * The whole local stack in one call: Redis behind the Upstash-REST endpoint,
 * Postgres behind the Neon endpoints, migrated. Used by `npm run stack`,
 * `npm run dev` and the tests.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openPool } from "../db.ts";
import { migrate } from "../migrate.ts";
import { type PostgresTraffic, startNeonEndpoint } from "./neon-endpoint.ts";
import { onPath, type Service, startPglite, startRedisServer } from "./services.ts";
import { type RedisTraffic, startUpstashRest, type UpstashRest } from "./upstash-rest.ts";

export type StackOptions = {
  /** Use this Redis; without it, a durable `redis-server` from PATH is started, and without that, none. */
  redisUrl?: string | undefined;
  /** Use this Postgres; without it, an embedded PGlite keeps its data in `dataDir`. */
  databaseUrl?: string | undefined;
  /** Create and use this database on the server (tests use one each). */
  database?: string;
  dataDir: string;
  /** 0 lets the system pick. */
  ports: { redis: number; pglite: number; upstash: number; neon: number };
  log?: (line: string) => void;
};

export type Stack = {
  /** What the worker needs: the Upstash and Neon endpoints and their credentials. */
  bindings: Record<string, string>;
  /** Servers this stack started itself (absent when a URL was given). */
  redis: Service | undefined;
  postgres: Service | undefined;
  /** The embedded Postgres's dump route, when the stack runs PGlite (`npm run backup` uses it). */
  pgliteDumpUrl: string | undefined;
  /** Every process id it started, for cleaning up after a crash. */
  pids(): number[];
  /** What the worker has sent to Redis and Postgres through the endpoints since the last reset (the bench counts with it). */
  traffic(): { redis: RedisTraffic | undefined; postgres: PostgresTraffic };
  resetTraffic(): void;
  stop(): Promise<void>;
};

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => {});
  const closers: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    const bindings: Record<string, string> = {};
    let redis: Service | undefined;
    let upstash: UpstashRest | undefined;
    let redisUrl = options.redisUrl;
    if (redisUrl === undefined && onPath("redis-server")) {
      redis = await startRedisServer(options.ports.redis, `${options.dataDir}/redis`);
      closers.push(() => redis!.stop());
      redisUrl = redis.url;
      log(`redis-server on ${redis.url}`);
    }
    if (redisUrl !== undefined) {
      const rest = await startUpstashRest({ redisUrl, token: randomBytes(16).toString("hex"), port: options.ports.upstash });
      upstash = rest;
      closers.push(() => rest.close());
      bindings.UPSTASH_REDIS_REST_URL = rest.url;
      bindings.UPSTASH_REDIS_REST_TOKEN = rest.token;
      log(`Upstash REST endpoint on ${rest.url} -> ${redisUrl}`);
    } else {
      log("no Redis (no REDIS_URL, no redis-server on PATH): the router runs degraded, cache in the isolate only");
    }

    let postgres: Service | undefined;
    let pgliteDumpUrl: string | undefined;
    let serverUrl = options.databaseUrl;
    if (serverUrl === undefined) {
      const pglite = await startPglite(`${options.dataDir}/pglite`, options.ports.pglite);
      closers.push(() => pglite.stop());
      postgres = pglite;
      pgliteDumpUrl = pglite.dumpUrl;
      serverUrl = postgres.url;
      log(`embedded Postgres (PGlite) on ${serverUrl}, data in ${options.dataDir}/pglite`);
    }
    const databaseUrl = options.database === undefined ? serverUrl : await createDatabase(serverUrl, options.database);
    const server = new URL(databaseUrl);
    const neon = await startNeonEndpoint({ backendHost: server.hostname, backendPort: Number(server.port || 5432), port: options.ports.neon });
    closers.push(() => neon.close());
    Object.assign(bindings, { DATABASE_URL: databaseUrl, NEON_HTTP_ENDPOINT: neon.httpUrl, NEON_WS_PROXY: neon.wsProxy });
    log(`Neon endpoints on ${neon.httpUrl} and ws://${neon.wsProxy} -> ${server.host}`);

    const pool = openPool(databaseUrl, neon.wsProxy);
    try {
      const applied = await migrate(pool);
      log(applied.length === 0 ? "migrations: up to date" : `migrations applied: ${applied.join(", ")}`);
    } finally {
      await pool.end();
    }
    return {
      bindings,
      redis,
      postgres,
      pgliteDumpUrl,
      pids: () => [...(redis?.pids() ?? []), ...(postgres?.pids() ?? [])],
      traffic: () => ({ redis: upstash?.traffic(), postgres: neon.traffic() }),
      resetTraffic: () => {
        upstash?.resetTraffic();
        neon.resetTraffic();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The stack over this machine's own Redis and PostgreSQL (`REDIS_URL`, `BENCH_POSTGRES_URL`
 * to use others), in a database of its own: what the bench and the soak measure against.
 */
export function startStackOnMachineServers(database: string): Promise<Stack> {
  return startStack({
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    databaseUrl: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    database,
    dataDir: `/tmp/tiergate-${database}`,
    ports: { redis: 0, pglite: 0, upstash: 0, neon: 0 },
  });
}

/** Creates `name` on the server (if absent) and returns its connection string. */
async function createDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
