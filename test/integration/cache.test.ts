/** The response cache through workerd, against real Redis behind the Upstash endpoint. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, startWithFakeProvider, type Router } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;
let unique = 0;
/** A prompt no other test sends, so each test starts from an empty cache. */
const fresh = (text = "What is the boiling point of water?"): string => `${text} (#${++unique}-${Date.now()})`;
const ask = (content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  router.post("/v1/chat/completions", chat(content, extra), headers);
const cacheKeys = () => storage.redis.keys(`${storage.prefix}:cache:*`);

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, CACHE_MAX_ENTRY_BYTES: "4096" });
  ({ fake, router } = stack);
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => stack.reset());

describe("the same request twice", () => {
  it("is a MISS then a HIT with the same body, and both are audited with the hash", async () => {
    const prompt = fresh();
    const first = await ask(prompt);
    const second = await ask(prompt);
    expect(first.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(second.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(await second.text()).toBe(await first.text());
    expect(second.headers.get("x-tiergate-model")).toBe(first.headers.get("x-tiergate-model"));
    await router.scheduled();
    const rows = (await auditRows(storage.db)).filter((r) =>
      [first.headers.get("x-request-id"), second.headers.get("x-request-id")].includes(String(r.request_id)),
    );
    expect(rows.map((r) => r.cache_status)).toEqual(["MISS", "HIT"]);
    expect(rows.every((r) => r.constitutional_hash === "cdd01ef066bc6cf2")).toBe(true);
    expect(rows[1]!.cost_usd).toBe(0);
  });

  it("hits when only whitespace differs, and misses when a parameter that changes the answer differs", async () => {
    const prompt = fresh("Name   three\n primes.");
    await ask(prompt);
    expect((await ask(prompt.replace(/\s+/g, " "))).headers.get("x-tiergate-cache")).toBe("HIT");
    expect((await ask(prompt, { temperature: 0.9 })).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(prompt, { model: "tier:5" })).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("serves a second instance of the router from Redis, not only from its own isolate", async () => {
    const prompt = fresh();
    const before = (await cacheKeys()).length;
    await ask(prompt);
    await waitFor(async () => (await cacheKeys()).length > before);
    const other = await startWithFakeProvider(storage.bindings);
    try {
      const response = await other.router.post("/v1/chat/completions", chat(prompt));
      expect(response.headers.get("x-tiergate-cache")).toBe("HIT");
      expect(other.fake.seen).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

describe("streaming and the cache", () => {
  it("replays a cached JSON completion as an SSE stream", async () => {
    const prompt = fresh();
    const json = await (await ask(prompt)).json();
    const replay = await ask(prompt, { stream: true });
    expect(replay.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(replay.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await replay.text();
    expect(text).toContain(JSON.stringify(json.choices[0].message.content));
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("caches a completed stream, and serves it as JSON to the next client", async () => {
    const prompt = fresh();
    const streamed = await (await ask(prompt, { stream: true })).text();
    expect(streamed).toContain("[DONE]");
    await waitFor(async () => (await ask(prompt, {}, {})).headers.get("x-tiergate-cache") === "HIT");
    const body = await (await ask(prompt)).json();
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0].message.content).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
  });

  it("never caches a stream that broke off", async () => {
    const prompt = fresh();
    fake.behaviour.breakAfterChunks = 2;
    await (await ask(prompt, { stream: true })).text();
    stack.reset();
    expect((await ask(prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
  });
});

describe("what is never cached, and the controls", () => {
  it("never caches an error", async () => {
    const prompt = fresh();
    fake.behaviour.errorStatus = 500;
    expect((await ask(prompt)).status).toBe(502);
    stack.reset();
    expect((await ask(prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("leaves an answer larger than CACHE_MAX_ENTRY_BYTES uncached", async () => {
    const prompt = fresh();
    fake.behaviour.completionTokens = 2_000;
    await ask(prompt);
    expect((await ask(prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("Cache-Control: no-cache skips the read (BYPASS), no-store skips the write", async () => {
    const prompt = fresh();
    await ask(prompt);
    expect((await ask(prompt, {}, { "cache-control": "no-cache" })).headers.get("x-tiergate-cache")).toBe("BYPASS");
    const unstored = fresh();
    expect((await ask(unstored, {}, { "cache-control": "no-store" })).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(unstored)).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("every cache key has the prefix and a TTL; x-tiergate-cache-ttl sets it", async () => {
    const shortLived = async (): Promise<number[]> => {
      const ttls = await Promise.all((await cacheKeys()).map((key) => storage.redis.ttl(key)));
      return ttls.filter((ttl) => ttl > 0 && ttl <= 120);
    };
    expect(await shortLived()).toEqual([]);
    await ask(fresh(), {}, { "x-tiergate-cache-ttl": "120" });
    await waitFor(async () => (await shortLived()).length === 1);
    expect((await shortLived())[0]).toBeGreaterThan(100);
    const keys = await cacheKeys();
    expect(keys.length).toBeGreaterThan(1);
    for (const key of keys) expect(await storage.redis.ttl(key), key).toBeGreaterThan(0);
  });

  it("refuses a malformed x-tiergate-cache-ttl with 400", async () => {
    const response = await ask(fresh(), {}, { "x-tiergate-cache-ttl": "forever" });
    expect(response.status).toBe(400);
    expect((await response.json()).error.param).toBe("x-tiergate-cache-ttl");
  });

  it("says BYPASS on responses that never reached the cache", async () => {
    const response = await router.post("/v1/chat/completions", "{");
    expect(response.headers.get("x-tiergate-cache")).toBe("BYPASS");
    expect((await router.fetch("/health")).headers.get("x-tiergate-cache")).toBe("BYPASS");
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
