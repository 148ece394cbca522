/**
 * Degraded, not down (the fault matrix's store rows): with its own Redis and Postgres
 * servers, the suite stops each one mid-run, sends requests through the fault within
 * a latency bound, restores the server, flushes, and counts exactly the records it
 * sent, with no sequence gaps.
 */

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { chat, type Router, startWithFakeProvider } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const N = 12;
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let router: Router;

beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  stack = await startWithFakeProvider({ ...storage.bindings, REDIS_TIMEOUT_MS: "300", POSTGRES_TIMEOUT_MS: "1000" });
  router = stack.router;
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});

/** A fresh connection each time: the Postgres server itself restarts in these tests. */
async function withDb<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: storage.bindings.DATABASE_URL });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}
const countRows = () => withDb(async (db) => Number((await db.query("SELECT count(*) AS n FROM audit_log")).rows[0].n));
const verify = () => withDb((db) => verifyAudit(async (text, params) => (await db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!));

const asAdmin = () => ({ headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } });

/** Sends N requests one after another; their statuses, and the slowest one's time. */
async function sendMany(label: string): Promise<{ statuses: number[]; slowestMs: number }> {
  const statuses: number[] = [];
  let slowestMs = 0;
  for (let i = 0; i < N; i++) {
    const startedAt = Date.now();
    const response = await router.post("/v1/chat/completions", chat(`${label} request ${i}`));
    await response.arrayBuffer();
    statuses.push(response.status);
    slowestMs = Math.max(slowestMs, Date.now() - startedAt);
  }
  return { statuses, slowestMs };
}

/** Flushes until every record sent so far is in Postgres, numbered. */
async function flushAll(expected: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await router.scheduled();
    const [rows, report] = [await countRows(), await verify()];
    if ((rows >= expected && report.unnumbered === 0) || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Redis stopped mid-run", () => {
  it("keeps serving, says degraded, writes records to Postgres, and numbers them once Redis is back", async () => {
    expect((await sendMany("warm-up")).statuses).toEqual(Array(N).fill(200));
    await flushAll(N);
    await storage.privateRedis!.stop();

    const down = await sendMany("redis-down");
    expect(down.statuses).toEqual(Array(N).fill(200));
    // A stopped server refuses at once; a hung one would cost each Redis call REDIS_TIMEOUT_MS (300 ms here).
    expect(down.slowestMs).toBeLessThan(1_000);
    const health = await (await router.fetch("/health", asAdmin())).json();
    expect(health).toMatchObject({ status: "degraded", storage: { redis: "down", postgres: "ok" }, cache: "isolate only" });
    const answered = await router.post("/v1/chat/completions", chat("redis-down request 0"));
    expect(answered.headers.get("x-tiergate-cache")).toBe("HIT"); // the isolate's own cache still serves
    expect(answered.headers.get("x-tiergate-degraded")).toContain("redis");
    await answered.arrayBuffer();
    expect((await verify()).unnumbered).toBeGreaterThanOrEqual(N);

    await storage.privateRedis!.start();
    await flushAll(2 * N + 1);
    expect(await countRows()).toBe(2 * N + 1);
    const report = await verify();
    expect(report).toMatchObject({ unnumbered: 0, lastSeq: 2 * N + 1, gaps: [], duplicates: [] });
    expect(isClean(report)).toBe(true);
  });
});

describe("Postgres stopped mid-run", () => {
  it("keeps serving while records wait in the Redis queue, and lands every one after the restart", async () => {
    const before = await countRows();
    await storage.privatePostgres!.stop();

    const down = await sendMany("postgres-down");
    expect(down.statuses).toEqual(Array(N).fill(200));
    expect(down.slowestMs).toBeLessThan(1_000);
    const health = await (await router.fetch("/health", asAdmin())).json();
    expect(health).toMatchObject({ status: "degraded", storage: { redis: "ok", postgres: "down" } });
    await router.scheduled(); // the flush fails, and must lose nothing
    expect(await storage.redis.lLen(`${storage.prefix}:audit:queue`)).toBe(N);

    await storage.privatePostgres!.start();
    await flushAll(before + N);
    expect(await countRows()).toBe(before + N);
    expect(await storage.redis.lLen(`${storage.prefix}:audit:queue`)).toBe(0);
    const report = await verify();
    expect(report).toMatchObject({ unnumbered: 0, lastSeq: before + N, gaps: [], duplicates: [] });
    expect(isClean(report)).toBe(true);
  });
});
