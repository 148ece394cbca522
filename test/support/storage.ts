/**
 * Real Redis and Postgres for tests, behind the same local Upstash and Neon
 * endpoints `npm run dev` uses. By default the machine's servers (REDIS_URL,
 * TEST_POSTGRES_URL) with a database and a key prefix of the suite's own; with
 * `private: true`, servers of its own that a test may stop and restart; with
 * `embedded: true`, the embedded PGlite of `npm run dev` in place of PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import pg from "pg";
import { createClient } from "redis";
import { freePort, type Service, startPostgresCluster, startRedisServer } from "../../scripts/local/services.ts";
import { type Stack, startStack } from "../../scripts/local/stack.ts";

export const SYSTEM_REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const SYSTEM_POSTGRES = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type TestStorage = {
  stack: Stack;
  /** Worker bindings: the endpoints, their credentials, an audit key, an admin key and a key prefix. */
  bindings: Record<string, string>;
  prefix: string;
  redis: TestRedis;
  /** A direct connection to the suite's database, for looking at what the worker wrote. */
  db: pg.Client;
  privateRedis: Service | undefined;
  privatePostgres: Service | undefined;
  close(): Promise<void>;
};

const connectRedis = (url: string) => {
  const client = createClient({ url, RESP: 2, disableOfflineQueue: true });
  client.on("error", () => {});
  return client;
};
type TestRedis = ReturnType<typeof connectRedis>;

export async function startTestStorage(options: { private?: boolean; embedded?: boolean } = {}): Promise<TestStorage> {
  const id = randomBytes(4).toString("hex");
  const dir = mkdtempSync(`${tmpdir()}/tiergate-test-`);
  const privateRedis = options.private ? await startRedisServer(await freePort(), `${dir}/redis`) : undefined;
  const privatePostgres = options.private ? await startPostgresCluster(dir, await freePort()) : undefined;
  const database = `tg_test_${id}`;
  const serverUrl = privatePostgres?.url ?? SYSTEM_POSTGRES;
  const stack = await startStack({
    redisUrl: privateRedis?.url ?? SYSTEM_REDIS,
    ...(options.embedded ? { databaseUrl: undefined } : { databaseUrl: serverUrl, database }),
    dataDir: dir,
    ports: { redis: 0, pglite: 0, upstash: 0, neon: 0 },
  });
  const prefix = `t${id}`;
  const redis = connectRedis(privateRedis?.url ?? SYSTEM_REDIS);
  await redis.connect();
  const db = new pg.Client({ connectionString: stack.bindings.DATABASE_URL });
  db.on("error", () => {});
  await db.connect();
  return {
    stack,
    prefix,
    redis,
    db,
    privateRedis,
    privatePostgres,
    bindings: {
      ...stack.bindings,
      KEY_PREFIX: prefix,
      AUDIT_HMAC_KEY: `audit-key-${id}-0123456789`,
      ADMIN_API_KEY: `admin-key-${id}-0123456789`,
    },
    async close() {
      await db.end().catch(() => {});
      const keys = await redis.keys(`${prefix}:*`).catch(() => []);
      if (keys.length > 0) await redis.del(keys).catch(() => {});
      await redis.close().catch(() => {});
      await stack.stop();
      await privateRedis?.stop();
      await privatePostgres?.stop();
      if (!options.private && !options.embedded) await dropDatabase(database);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: SYSTEM_POSTGRES });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await admin.end();
}

/** Audit rows as stored, oldest first. */
export async function auditRows(db: pg.Client): Promise<Record<string, unknown>[]> {
  return (await db.query("SELECT * FROM audit_log ORDER BY seq NULLS LAST, ts")).rows;
}

/** Forgets every circuit, probe and latency the suite's routers shared; they forget their own view after HEALTH_CACHE_MS. */
export async function clearHealth(storage: TestStorage): Promise<void> {
  const keys = await storage.redis.keys(`${storage.prefix}:health:*`);
  if (keys.length > 0) await storage.redis.del(keys);
}
