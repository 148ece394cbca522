/** The local stand-ins speak the production protocols: @upstash/redis and Neon's driver work unchanged. */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPool } from "../../scripts/db.ts";
import { startUpstashRest, type UpstashRest } from "../../scripts/local/upstash-rest.ts";
import { migrate, readMigrations } from "../../scripts/migrate.ts";
import { SYSTEM_REDIS, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let rest: UpstashRest;
let redis: Redis;
let key: (name: string) => string;

beforeAll(async () => {
  storage = await startTestStorage();
  rest = await startUpstashRest({ redisUrl: SYSTEM_REDIS, token: "secret-token" });
  redis = new Redis({ url: rest.url, token: rest.token, retry: false });
  key = (name) => `${storage.prefix}:${name}`;
});
afterAll(async () => {
  await rest.close();
  await storage.close();
});

describe("the Upstash-REST endpoint over a real Redis", () => {
  it("runs single commands, with base64-encoded answers the client decodes (UTF-8 included)", async () => {
    expect(await redis.set(key("s"), "héllo ✓ 🚀")).toBe("OK");
    expect(await redis.get(key("s"))).toBe("héllo ✓ 🚀");
    expect(await storage.redis.get(key("s"))).toBe("héllo ✓ 🚀");
  });

  it("runs a pipeline and a real MULTI/EXEC, with flat arrays as Upstash returns them", async () => {
    const pipeline = redis.pipeline();
    pipeline.incr(key("n"));
    pipeline.hset(key("h"), { a: "1", b: "two" });
    pipeline.hgetall(key("h"));
    expect(await pipeline.exec()).toEqual([1, 2, { a: 1, b: "two" }]);
    const multi = redis.multi();
    multi.incr(key("n"));
    multi.rpush(key("l"), "x", "y");
    expect(await multi.exec()).toEqual([2, 2]);
  });

  it("answers a Redis error as Upstash does, and refuses a wrong token", async () => {
    await redis.set(key("str"), "text");
    await expect(redis.incr(key("str"))).rejects.toThrow(/not an integer/);
    await expect(new Redis({ url: rest.url, token: "wrong", retry: false }).get(key("s"))).rejects.toThrow(/Unauthorized/);
  });

  it("runs scripts whose shebang flags Redis 7.0 refuses, by EVAL then EVALSHA", async () => {
    const script = redis.createScript<number>("#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await script.exec([key("lua")], ["5"])).toBe(5);
    expect(await script.exec([key("lua")], ["5"])).toBe(10);
    expect(await script.evalsha([key("lua")], ["1"])).toBe(11);
  });
});

describe("the Neon endpoints over a real Postgres", () => {
  it("serve neon() HTTP queries, with types parsed as Neon's own service sends them", async () => {
    neonConfig.fetchEndpoint = storage.bindings.NEON_HTTP_ENDPOINT!;
    const sql = neon(storage.bindings.DATABASE_URL!);
    const [row] = await sql`SELECT 1::int AS one, ${"x"}::text AS s, now() AS t, '{"a":1}'::jsonb AS j, NULL::int AS n`;
    expect(row).toMatchObject({ one: 1, s: "x", j: { a: 1 }, n: null });
    expect(row!.t).toBeInstanceOf(Date);
  });

  it("run an HTTP batch as one transaction: a failing statement rolls back the others", async () => {
    neonConfig.fetchEndpoint = storage.bindings.NEON_HTTP_ENDPOINT!;
    const sql = neon(storage.bindings.DATABASE_URL!);
    await sql`CREATE TABLE batch_probe (v int)`;
    await expect(sql.transaction([sql`INSERT INTO batch_probe VALUES (1)`, sql`SELECT * FROM no_such_table`])).rejects.toThrow(/no_such_table/);
    expect(await sql`SELECT count(*)::int AS n FROM batch_probe`).toEqual([{ n: 0 }]);
    await sql.transaction([sql`INSERT INTO batch_probe VALUES (1)`, sql`INSERT INTO batch_probe VALUES (2)`]);
    expect(await sql`SELECT count(*)::int AS n FROM batch_probe`).toEqual([{ n: 2 }]);
  });

  it("relay Pool connections over WebSocket, transactions included", async () => {
    const pool = openPool(storage.bindings.DATABASE_URL!, storage.bindings.NEON_WS_PROXY);
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query("SELECT $1::int + 1 AS v", [41]);
      await client.query("COMMIT");
      expect(rows).toEqual([{ v: 42 }]);
    } finally {
      client.release();
      await pool.end();
    }
  });
});

describe("npm run migrate", () => {
  it("has applied every migration, and a second run is a no-op", async () => {
    const pool = openPool(storage.bindings.DATABASE_URL!, storage.bindings.NEON_WS_PROXY);
    try {
      expect(await migrate(pool)).toEqual([]);
      const { rows } = await storage.db.query("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(readMigrations().map((m) => m.version));
    } finally {
      await pool.end();
    }
  });

  it("leaves the database as it was when a migration fails, with Postgres's message", async () => {
    const dir = mkdtempSync(`${tmpdir()}/migrations-`);
    writeFileSync(`${dir}/9001_half_good.sql`, "CREATE TABLE half_good (id int);\nALTER TABLE nowhere ADD COLUMN x int;");
    const pool = openPool(storage.bindings.DATABASE_URL!, storage.bindings.NEON_WS_PROXY);
    try {
      await expect(migrate(pool, readMigrations(dir))).rejects.toThrow(/9001_half_good failed: relation "nowhere" does not exist/);
      const { rows } = await storage.db.query("SELECT to_regclass('half_good') AS t, (SELECT count(*)::int FROM schema_migrations WHERE version = 9001) AS n");
      expect(rows[0]).toEqual({ t: null, n: 0 });
    } finally {
      await pool.end();
      rmSync(dir, { recursive: true });
    }
  });

  it("partitions the audit log by month and indexes it for the usual questions", async () => {
    const { rows: parts } = await storage.db.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'audit_log'::regclass");
    expect(parts[0].n).toBeGreaterThanOrEqual(14);
    const { rows: indexes } = await storage.db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log'");
    expect(indexes.map((r) => r.indexname)).toEqual(
      expect.arrayContaining(["audit_log_key_ts", "audit_log_request", "audit_log_tier_model_ts", "audit_log_status_ts", "audit_log_seq"]),
    );
  });
});
