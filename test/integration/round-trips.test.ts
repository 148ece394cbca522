/**
 * A keyed request's store calls before its answer go out together, not one after
 * another (issue 26): the requests check, the cache read and the reservation make one
 * wave of round trips on a miss; an isolate hit and /v1/route, the requests check and
 * the tokens peek side by side, the peek (read-only) at a replica; a key's first
 * request, one wave at the primary after the look-up. Counted through the bench's edge
 * proxy, which delays every call by the same round trip and notes when each was
 * answered: a call is one wave deeper than the deepest call answered before it
 * arrived. Money still adds up: what a refusal reserved comes back.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depths, type EdgeProxy, type StoreCall, startEdgeProxy } from "../../scripts/bench/edge-proxy.ts";
import { chat, fakeProviders, startRouter, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const RTT = 60;
let storage: TestStorage;
let proxy: EdgeProxy;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });

async function makeKey(fields: Record<string, unknown>): Promise<{ key: string; id: string }> {
  const response = await app.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "round trips", ...fields }) });
  return (await response.json()) as { key: string; id: string };
}

type Waves = { status: number; waves: number; primaryWaves: number; calls: string[] };

/** Sends one request and counts the store round trips it waited in a row before its first byte, and how many of them reached the primary. */
async function waves(path: string, body: unknown, key: string, headers: Record<string, string> = {}): Promise<Waves> {
  // The circuit view, read by the request that finds it stale, is made fresh first (by the admin key, which nothing limits).
  await (await app.router.post("/v1/route", chat("the circuit view"), { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` })).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 3 * RTT)); // the last request's after-work
  proxy.reset();
  const start = performance.now();
  const response = await app.router.post(path, body, { authorization: `Bearer ${key}`, ...headers });
  const firstByte = performance.now();
  await response.arrayBuffer();
  const before = proxy.calls().filter((call: StoreCall) => call.at >= start && call.at < firstByte);
  const depth = depths(before);
  const waves = Math.max(0, ...depth);
  const primaryWaves = new Set(depth.filter((_, i) => before[i]!.store === "primary")).size;
  return {
    status: response.status,
    waves,
    primaryWaves,
    calls: before.map((call) => `${call.store} ${call.commands.join("+")}`),
  };
}

/** The key's spend counter and the sum of its audit rows' cost, once the rows are flushed and the settlements done. */
async function spendOf(id: string, rows: number): Promise<{ counted: number; audited: number }> {
  const deadline = Date.now() + 8_000;
  let spend = { counted: -1, audited: -2 };
  while (Date.now() < deadline) {
    await app.router.scheduled();
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const counted = Number((await storage.redis.get(`${storage.prefix}:spend:key:${id}:d:${day}`)) ?? 0);
    const found = await storage.db.query("SELECT cost_usd FROM audit_log WHERE key_id = $1", [id]);
    spend = { counted, audited: found.rows.reduce((sum, row) => sum + Math.round(Number(row.cost_usd ?? 0) * 1e6), 0) };
    if (found.rows.length === rows && spend.counted === spend.audited) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return spend;
}

beforeAll(async () => {
  storage = await startTestStorage();
  proxy = await startEdgeProxy(storage.stack.bindings as Parameters<typeof startEdgeProxy>[0], { primary: RTT, replica: RTT, neon: RTT });
  // The circuit view (awaited when stale) stays fresh 10 s, and waves() refreshes it first: each request's waves are its own.
  app = await startWithFakeProvider({
    ...storage.bindings,
    ...proxy.bindings,
    HEALTH_CACHE_MS: "10000",
    PROVIDER_KEYS_KEK: Buffer.from(createHash("sha256").update("round trips kek").digest()).toString("base64"),
  });
  // Every script sent once by its text (a Redis that never saw one answers NOSCRIPT first: a round trip that is no request's own).
  const { key } = await makeKey({ rpm: 1_000, tpm: 1_000_000, daily_budget_usd: 100 });
  for (const path of ["/v1/route", "/v1/chat/completions"])
    await (await app.router.post(path, chat(uniquePrompt("scripts")), { authorization: `Bearer ${key}` })).arrayBuffer();
}, 60_000);
afterAll(async () => {
  await app.close();
  await proxy.close();
  await storage.close();
});

describe("store round trips before a keyed answer", () => {
  const limits = { rpm: 1_000, tpm: 1_000_000, daily_budget_usd: 100 };

  it("a miss makes one wave: the requests check, the cache read and the reservation together", async () => {
    const { key } = await makeKey(limits);
    expect((await waves("/v1/chat/completions", chat(uniquePrompt("warm")), key)).status).toBe(200);
    const miss = await waves("/v1/chat/completions", chat(uniquePrompt("miss")), key);
    expect(miss.status).toBe(200);
    expect(miss.calls.some((call) => call.includes("GET"))).toBe(true);
    expect(miss.waves).toBe(1);
  });

  it("a warm key's miss reads the cache at a replica and nothing else: its requests, tokens and money come from its slices", async () => {
    const { key } = await makeKey(limits);
    // A few requests in this isolate: its slices are sized to their rate.
    for (let i = 0; i < 4; i++) expect((await waves("/v1/chat/completions", chat(uniquePrompt("warm")), key)).status).toBe(200);
    const miss = await waves("/v1/chat/completions", chat(uniquePrompt("warm miss")), key);
    expect(miss.status).toBe(200);
    expect(miss.calls).toEqual(["replica GET"]);
    expect(miss.primaryWaves).toBe(0);
  });

  it("a warm key's isolate hit and /v1/route never reach the primary, and reserve nothing", async () => {
    const { key } = await makeKey(limits);
    const prompt = uniquePrompt("hit");
    // A few requests in this isolate: its slice of the key's requests is sized to their rate.
    for (let i = 0; i < 4; i++) expect((await waves("/v1/chat/completions", chat(prompt), key)).status).toBe(200);
    const hit = await waves("/v1/chat/completions", chat(prompt), key);
    expect(hit.status).toBe(200);
    // The requests are admitted from the isolate's slice, and its tokens headers come from its tokens slice.
    expect(hit.calls).toEqual([]);
    expect(hit.primaryWaves).toBe(0);
    const route = await waves("/v1/route", chat(uniquePrompt("route")), key);
    expect(route.status).toBe(200);
    expect(route.calls).toEqual([]);
  });

  it("a warm key's turn in a session the isolate knows reads the cache at a replica and nothing else; one it does not know reads the session beside it", async () => {
    const { key } = await makeKey(limits);
    const turn = (text: string) => ({
      model: "auto",
      messages: [
        { role: "user", content: "run it" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "run", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: uniquePrompt(text) },
      ],
    });
    for (let i = 0; i < 4; i++) expect((await waves("/v1/chat/completions", chat(uniquePrompt("warm")), key)).status).toBe(200);
    // Nobody knows this session yet: its Redis read goes out with the cache read, in the same wave.
    const unknown = await waves("/v1/chat/completions", turn("first turn"), key, { "x-session-id": `rt-${uniquePrompt()}` });
    expect(unknown.status).toBe(200);
    expect(unknown.calls).toEqual(["replica GET", "replica GET"]);
    expect(unknown.waves).toBe(1);
    expect(unknown.primaryWaves).toBe(0);
    // The isolate remembers it after the answer: the next turn adds no call at all.
    const session = { "x-session-id": `rt-${uniquePrompt()}` };
    expect((await waves("/v1/chat/completions", turn("one"), key, session)).status).toBe(200);
    const known = await waves("/v1/chat/completions", turn("two"), key, session);
    expect(known.status).toBe(200);
    expect(known.calls).toEqual(["replica GET"]);
    expect(known.primaryWaves).toBe(0);
  });

  it("a key's first request finds its record in Redis, never Postgres, and makes one call to the primary: its slices of requests and money", async () => {
    const { key } = await makeKey(limits);
    const first = await waves("/v1/chat/completions", chat(uniquePrompt("first of a key")), key);
    expect(first.status).toBe(200);
    expect(first.calls[0]).toBe("replica GET"); // the key's record, written when the key was made
    expect(first.calls.filter((call) => call.startsWith("neon"))).toEqual([]);
    expect(first.calls.filter((call) => call.startsWith("primary"))).toEqual(["primary EVALSHA+EVALSHA"]);
    expect(first.primaryWaves).toBe(1);
    expect(first.waves).toBe(2);
  });

  it("a tenant's own provider key adds no round trip: it comes sealed with the key's record, cold and warm", async () => {
    const tenant = `rt-byok-${Date.now().toString(36)}`;
    await (await app.router.fetch("/v1/admin/tenants", { method: "POST", headers: admin(), body: JSON.stringify({ id: tenant }) })).arrayBuffer();
    const put = await app.router.fetch(`/v1/admin/tenants/${tenant}/providers/openrouter`, {
      method: "PUT",
      headers: admin(),
      body: JSON.stringify({ api_key: "sk-tenant-round-trips-0123456789" }),
    });
    expect(put.status).toBe(200);
    const { key } = await makeKey({ ...limits, tenant });
    const first = await waves("/v1/chat/completions", chat(uniquePrompt("first of a byok key"), { model: "openrouter/deepseek/deepseek-v4-pro" }), key);
    expect(first.status).toBe(200);
    expect(app.fake.seen.at(-1)?.headers.authorization).toBe("Bearer sk-tenant-round-trips-0123456789");
    expect(first.calls[0]).toBe("replica GET");
    expect(first.calls.filter((call) => call.startsWith("neon"))).toEqual([]);
    expect(first.calls.filter((call) => call.startsWith("primary"))).toEqual(["primary EVALSHA+EVALSHA"]);
    expect(first.waves).toBe(2);
    for (let i = 0; i < 3; i++)
      expect((await waves("/v1/chat/completions", chat(uniquePrompt("warm byok"), { model: "openrouter/deepseek/deepseek-v4-pro" }), key)).status).toBe(200);
    const warm = await waves("/v1/chat/completions", chat(uniquePrompt("warm byok miss"), { model: "openrouter/deepseek/deepseek-v4-pro" }), key);
    expect(warm.status).toBe(200);
    expect(warm.calls).toEqual(["replica GET"]);
  });

  it("a key whose record Redis lost is read from Postgres once, and its record written back with the request's own call to the primary", async () => {
    const { key } = await makeKey(limits);
    const hash = createHash("sha256").update(key).digest("hex");
    expect(await storage.redis.del(`${storage.prefix}:key:r3:${hash}`)).toBe(1);
    const first = await waves("/v1/chat/completions", chat(uniquePrompt("lost record")), key);
    expect(first.status).toBe(200);
    expect(first.calls.slice(0, 2)).toEqual(["replica GET", "neon SQL"]);
    expect(first.calls.filter((call) => call.startsWith("primary"))).toEqual(["primary SET+EVALSHA+EVALSHA"]);
    expect(await storage.redis.exists(`${storage.prefix}:key:r3:${hash}`)).toBe(1);
  });

  it("gives back what a request over its rpm reserved: the spend counter still equals the audit rows", async () => {
    const { key, id } = await makeKey({ rpm: 1, daily_budget_usd: 100 });
    expect((await waves("/v1/chat/completions", chat(uniquePrompt("first")), key)).status).toBe(200);
    // The first refusal comes from Redis, while the reservation is in flight; the others from the limiter's isolate cache, before any.
    for (let i = 0; i < 3; i++) expect((await waves("/v1/chat/completions", chat(uniquePrompt("over")), key)).status).toBe(429);
    const spend = await spendOf(id, 4);
    expect(spend.audited).toBeGreaterThan(0);
    expect(spend.counted).toBe(spend.audited);
  });
});

describe("the circuit view", () => {
  it("is read by an isolate's first request, then refreshed in the background: no later request waits on the circuit read", async () => {
    const quick = await startRouter({ ...fakeProviders(app.fake.url), ...storage.bindings, ...proxy.bindings, HEALTH_CACHE_MS: "100" });
    try {
      const { key } = await makeKey({ rpm: 1_000, tpm: 1_000_000, daily_budget_usd: 100 });
      const circuitReads = (calls: readonly StoreCall[]) => calls.filter((call) => call.commands.some((command) => /HGETALL/i.test(command))).length;
      /** The circuit reads a request waited for (before its first byte), and those made while it ran or after. */
      const send = async (text: string) => {
        proxy.reset();
        const start = performance.now();
        const response = await quick.post("/v1/route", chat(uniquePrompt(text)), { authorization: `Bearer ${key}` });
        const firstByte = performance.now();
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 4 * RTT)); // the background read, if one was started
        const calls = proxy.calls();
        return { status: response.status, waited: circuitReads(calls.filter((call) => call.at < firstByte && call.at >= start)), all: circuitReads(calls) };
      };
      const first = await send("first");
      expect(first).toMatchObject({ status: 200, waited: 1 });
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150)); // the view is older than its cache time
        const later = await send(`later ${i}`);
        expect(later).toMatchObject({ status: 200, waited: 0, all: 1 });
      }
    } finally {
      await quick.close();
    }
  });
});
