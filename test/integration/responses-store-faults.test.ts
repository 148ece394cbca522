/**
 * A stored response is never lost and never promised falsely (issue 37, item 3), now that
 * its Postgres row is written after the answer: with Postgres down, the answer says
 * `store: true` only because Redis took its copy, which then stays for the retention and
 * serves fetches and continuations; with Redis down too, the answer says `store: false`,
 * as it did; with Redis down alone, the row is written before the answer, as it was.
 * Against servers of the suite's own, stopped and started mid-run.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;

beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  app = await startWithFakeProvider({ ...storage.bindings, REDIS_TIMEOUT_MS: "300", POSTGRES_TIMEOUT_MS: "1000" });
  // Every script sent once, while both stores are up.
  expect((await app.router.post("/v1/responses", { model: "auto", input: uniquePrompt("warm up") })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await app.close();
  await storage.close();
});

/** A fresh connection each time: the Postgres server itself restarts in these tests (and says so a while after it starts). */
async function rowOf(id: string): Promise<number> {
  for (let tries = 0; ; tries++) {
    const db = new pg.Client({ connectionString: storage.bindings.DATABASE_URL });
    try {
      await db.connect();
      return (await db.query("SELECT id FROM responses WHERE id = $1", [id])).rows.length;
    } catch (error) {
      if (tries === 50 || !String(error).includes("starting up")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await db.end().catch(() => {});
    }
  }
}

const copyKey = (id: string) => `${storage.prefix}:response:anonymous/${id}`;
const create = async (input: string, stream = false): Promise<{ id: string; store: unknown }> => {
  const response = await app.router.post("/v1/responses", { model: "auto", input: uniquePrompt(input), stream });
  expect(response.status).toBe(200);
  const text = await response.text();
  if (!stream) return JSON.parse(text) as { id: string; store: unknown };
  const completed = text.split("\n\n").find((event) => event.startsWith("event: response.completed"))!;
  return (JSON.parse(/^data: (.*)$/m.exec(completed)![1]!) as { response: { id: string; store: unknown } }).response;
};
const continued = (id: string) => app.router.post("/v1/responses", { model: "auto", previous_response_id: id, input: "And then?" });
const sentMessages = () => (app.fake.seen.at(-1)!.body as { messages: unknown[] }).messages;

describe("saving a response through a store outage", () => {
  it("Postgres down: Redis's copy is kept for the retention, and the response is fetched and continued from it", async () => {
    await storage.privatePostgres!.stop();
    try {
      for (const stream of [false, true]) {
        const { id, store } = await create("Postgres is down", stream);
        expect(store).toBe(true);
        // The row is tried after the answer, and again; then the copy is kept as long as the row would have been.
        await expect.poll(() => storage.redis.ttl(copyKey(id)), { timeout: 15_000, interval: 200 }).toBeGreaterThan(29 * 86_400);
        expect(app.router.logs.some((line) => line.includes(`response ${id} not saved in Postgres`))).toBe(true);
        const next = await continued(id);
        expect(next.status).toBe(200);
        expect(sentMessages()).toHaveLength(3);
        expect((await app.router.fetch(`/v1/responses/${id}`)).status).toBe(200);
      }
    } finally {
      await storage.privatePostgres!.start();
    }
  });

  it("Redis down: the row is written before the answer, as it always was", async () => {
    await storage.privateRedis!.stop();
    try {
      const { id, store } = await create("Redis is down");
      expect(store).toBe(true);
      expect(await rowOf(id)).toBe(1);
      expect((await continued(id)).status).toBe(200);
      expect(sentMessages()).toHaveLength(3);
    } finally {
      await storage.privateRedis!.start();
    }
  });

  it("both down: the answer says store: false, JSON and streamed, and nothing can continue it", async () => {
    await storage.privateRedis!.stop();
    await storage.privatePostgres!.stop();
    const ids: string[] = [];
    try {
      for (const stream of [false, true]) {
        const { id, store } = await create("Both are down", stream);
        expect(store).toBe(false);
        ids.push(id);
      }
    } finally {
      await storage.privateRedis!.start();
      await storage.privatePostgres!.start();
    }
    for (const id of ids) {
      expect(app.router.logs.some((line) => line.includes("response not stored"))).toBe(true);
      expect(await rowOf(id)).toBe(0);
      expect((await continued(id)).status).toBe(404);
    }
  });
});
