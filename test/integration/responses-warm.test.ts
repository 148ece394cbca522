/**
 * A warm continuation waits on no Neon call (issue 37, item 3): the history of a stored
 * response is read from the isolate's copy or Redis's, and the row is written after the
 * answer. Counted at the local Neon endpoint, through the bench's edge proxy, as
 * round-trips.test.ts counts. Also: the copy is there at once after the save, in this
 * isolate and in another; another tenant cannot read it; a DELETE makes it unreadable
 * everywhere, even one that comes before the row is in Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeProxy, type StoreCall, startEdgeProxy } from "../../scripts/bench/edge-proxy.ts";
import { fakeProviders, type Router, startRouter, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let proxy: EdgeProxy;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
/** A second router on the same stores: another isolate. */
let other: Router;
let ada: string;
let bob: string;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const NO_DELAY = { primary: 0, replica: 0, neon: 0 };
/** Neon slow enough that a row written after the answer is still on its way when the next request comes. */
const SLOW_NEON = { primary: 0, replica: 0, neon: 1_500 };

async function makeKey(tenant: string): Promise<string> {
  const headers = { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" };
  const response = await app.router.fetch("/v1/admin/keys", { method: "POST", headers, body: JSON.stringify({ name: "warm", tenant }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

type Sent = { status: number; body: Record<string, unknown>; neonBefore: number; calls: string[] };

/** Each router's name at the proxy: a request counts only its own isolate's calls, not the other's after-work landing meanwhile. */
const names = new Map<Router, string>();

/** Sends one request and counts the Neon calls its router made between its start and its answer's first byte. */
async function send(router: Router, key: string, body: Record<string, unknown>): Promise<Sent> {
  const start = performance.now();
  const response = await router.post("/v1/responses", body, bearer(key));
  const firstByte = performance.now();
  const text = await response.text();
  const before = proxy.calls().filter((call: StoreCall) => call.from === names.get(router) && call.at >= start && call.at < firstByte);
  return {
    status: response.status,
    body: JSON.parse(text) as Record<string, unknown>,
    neonBefore: before.filter((call) => call.store === "neon").length,
    calls: before.map((call) => `${call.store} ${call.commands.join("+")}`),
  };
}

const rowOf = async (id: string) => (await storage.db.query("SELECT id FROM responses WHERE id = $1", [id])).rows.length;
const sentMessages = () => (app.fake.seen.at(-1)!.body as { messages: { role: string; content: unknown }[] }).messages;

beforeAll(async () => {
  storage = await startTestStorage();
  proxy = await startEdgeProxy(storage.stack.bindings as Parameters<typeof startEdgeProxy>[0], NO_DELAY);
  const bindings = { ...storage.bindings, REQUIRE_API_KEY: "true" };
  app = await startWithFakeProvider({ ...bindings, ...proxy.as("app") });
  other = await startRouter({ ...fakeProviders(app.fake.url), ...bindings, ...proxy.as("other") });
  names.set(app.router, "app").set(other, "other");
  ada = await makeKey("ada");
  bob = await makeKey("bob");
  // Each key known to each isolate (its first request reads its row from Postgres), and every script sent once.
  for (const router of [app.router, other])
    for (const key of [ada, bob]) expect((await send(router, key, { model: "auto", input: uniquePrompt("warm up") })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await other.close();
  await app.close();
  await proxy.close();
  await storage.close();
});

describe("a continuation reads the stored history without Neon", () => {
  it("a warm continuation makes no Neon call before its answer, and the row still lands in Postgres", async () => {
    const first = await send(app.router, ada, { model: "auto", input: uniquePrompt("My name is Ada.") });
    expect(first).toMatchObject({ status: 200, neonBefore: 0 });
    expect(first.body.store).toBe(true);
    const next = await send(app.router, ada, { model: "auto", previous_response_id: first.body.id, input: "What is my name?" });
    expect(next.status).toBe(200);
    expect(next.neonBefore).toBe(0);
    // The isolate's copy, checked at a replica; this answer's own copy is written before it goes out.
    expect(next.calls).toContain("replica EXISTS");
    expect(next.calls).toContain("primary SET");
    expect(sentMessages().map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    // Saved after the answers, both rows are in Postgres.
    await expect.poll(async () => (await rowOf(first.body.id as string)) + (await rowOf(next.body.id as string)), { timeout: 5_000 }).toBe(2);
  });

  it("continues at once a response whose row is still on its way to Postgres, in this isolate and in another", async () => {
    proxy.delays = { ...SLOW_NEON };
    try {
      const first = await send(app.router, ada, { model: "auto", input: uniquePrompt("Remember the word heron.") });
      expect(first.body.store).toBe(true);
      expect(await rowOf(first.body.id as string)).toBe(0);
      const here = await send(app.router, ada, { model: "auto", previous_response_id: first.body.id, input: "The word?" });
      expect(here).toMatchObject({ status: 200, neonBefore: 0 });
      expect(sentMessages()).toHaveLength(3);
      // Another isolate finds Redis's copy.
      const there = await send(other, ada, { model: "auto", previous_response_id: first.body.id, input: "The word, again?" });
      expect(there).toMatchObject({ status: 200, neonBefore: 0 });
      expect(there.calls).not.toContain("replica EXISTS"); // no copy in that isolate: Redis's is read
      expect(sentMessages()).toHaveLength(3);
      expect(await rowOf(first.body.id as string)).toBe(0);
    } finally {
      proxy.delays = { ...NO_DELAY };
    }
  });

  it("another tenant reads nothing of it, from either copy", async () => {
    const first = await send(app.router, ada, { model: "auto", input: uniquePrompt("Ada's secret.") });
    const id = first.body.id as string;
    // Ada's copy is in Redis and in both isolates.
    expect((await send(other, ada, { model: "auto", previous_response_id: id, input: "hi" })).status).toBe(200);
    expect(await storage.redis.keys(`${storage.prefix}:response:*${id}`)).toHaveLength(1);
    for (const router of [app.router, other]) {
      const stolen = await send(router, bob, { model: "auto", previous_response_id: id, input: "What was the secret?" });
      expect(stolen.status).toBe(404);
      expect(stolen.body).toMatchObject({ error: { param: "previous_response_id" } });
      expect((await router.fetch(`/v1/responses/${id}`, { headers: bearer(bob) })).status).toBe(404);
      expect((await router.fetch(`/v1/responses/${id}`, { method: "DELETE", headers: bearer(bob) })).status).toBe(404);
    }
    expect((await app.router.fetch(`/v1/responses/${id}`, { headers: bearer(ada) })).status).toBe(200);
  });

  it("a DELETE makes it unreadable in every isolate that holds a copy", async () => {
    const first = await send(app.router, ada, { model: "auto", input: uniquePrompt("Soon gone.") });
    const id = first.body.id as string;
    // Both isolates hold a copy of their own.
    for (const router of [app.router, other]) expect((await send(router, ada, { model: "auto", previous_response_id: id, input: "hi" })).status).toBe(200);
    await expect.poll(() => rowOf(id), { timeout: 5_000 }).toBe(1);
    expect((await app.router.fetch(`/v1/responses/${id}`, { method: "DELETE", headers: bearer(ada) })).status).toBe(200);
    for (const router of [app.router, other]) {
      expect((await send(router, ada, { model: "auto", previous_response_id: id, input: "still there?" })).status).toBe(404);
      expect((await router.fetch(`/v1/responses/${id}`, { headers: bearer(ada) })).status).toBe(404);
    }
    expect(await rowOf(id)).toBe(0);
  });

  it("a DELETE that comes before the row is in Postgres leaves no row behind", async () => {
    // The row's INSERT waits at the proxy; the DELETE, sent with no delay, finds no row to delete.
    proxy.delays = { ...SLOW_NEON };
    const mark = performance.now();
    const first = await send(app.router, ada, { model: "auto", input: uniquePrompt("Deleted at once.") });
    proxy.delays = { ...NO_DELAY };
    const id = first.body.id as string;
    expect((await other.fetch(`/v1/responses/${id}`, { method: "DELETE", headers: bearer(ada) })).status).toBe(200);
    expect(await rowOf(id)).toBe(0);
    // The row lands after the DELETE (its INSERT answered), and the DELETE's tombstone has it taken away again.
    const inserts = () => proxy.calls().filter((call) => call.store === "neon" && call.at >= mark);
    await expect.poll(() => inserts().length > 0 && inserts().every((call) => call.answeredAt !== undefined), { timeout: 5_000 }).toBe(true);
    await expect.poll(() => rowOf(id), { timeout: 5_000 }).toBe(0);
    for (const router of [app.router, other]) {
      expect((await send(router, ada, { model: "auto", previous_response_id: id, input: "still there?" })).status).toBe(404);
    }
  });
});
