/** The response cache through workerd, against real Redis behind the Upstash endpoint. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, type Router, startWithFakeProvider } from "../support/router.ts";
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
/** The cache keys once earlier requests' after-response batches (open 10 ms, later under load) have all landed. */
async function settledKeys(): Promise<string[]> {
  let keys = await cacheKeys();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await cacheKeys();
    if (again.length === keys.length) return again;
    keys = again;
  }
}

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

  it("hits when only the message's ends differ, and misses when a parameter that changes the answer differs", async () => {
    const prompt = fresh("Name   three\n primes.");
    await ask(prompt);
    expect((await ask(`  ${prompt}\n`)).headers.get("x-tiergate-cache")).toBe("HIT");
    expect((await ask(prompt, { temperature: 0.9 })).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(prompt, { model: "tier:5" })).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("serves a second instance of the router from Redis, not only from its own isolate", async () => {
    const prompt = fresh();
    const before = (await settledKeys()).length;
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

describe("what an outside probe broke: the cache must never serve the wrong answer", () => {
  const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` });
  const redisTtl = async (prompt: string): Promise<number> => {
    const before = new Set(await settledKeys());
    await ask(prompt);
    let added: string[] = [];
    await waitFor(async () => {
      added = (await cacheKeys()).filter((key) => !before.has(key));
      return added.length === 1;
    });
    return storage.redis.ttl(added[0]!);
  };

  it("keeps prompts that differ only inside their whitespace apart (Python indentation, a Markdown table)", async () => {
    const tag = fresh("code");
    const nested = `${tag}\ndef f(x):\n    if x:\n        return 1\n    return 2`;
    const flat = `${tag}\ndef f(x):\n    if x:\n        return 1\n        return 2`;
    expect((await ask(nested)).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(flat)).headers.get("x-tiergate-cache")).toBe("MISS");
    const table = `${fresh("table")}\n| a | b |\n|---|---|\n| 1 | 2 |`;
    await ask(table);
    expect((await ask(table.replaceAll("\n", " "))).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(table)).headers.get("x-tiergate-cache")).toBe("HIT");
  });

  it("keeps one user's entry from another user", async () => {
    const prompt = fresh();
    await ask(prompt, { user: "alice" });
    expect((await ask(prompt, { user: "bob" })).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(prompt, { user: "alice" })).headers.get("x-tiergate-cache")).toBe("HIT");
  });

  it("lets only the admin key lengthen a TTL, and no client replace a shared entry early", async () => {
    const refused = await ask(fresh(), {}, { "cache-control": "no-cache", "x-tiergate-cache-ttl": "604800" });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error).toMatchObject({ code: "cache_ttl_not_allowed", param: "x-tiergate-cache-ttl" });

    const shared = fresh();
    const ttl = await redisTtl(shared);
    expect(ttl).toBeGreaterThan(3_000);
    const seen = fake.seen.length;
    const rewrite = await ask(shared, {}, { "cache-control": "no-cache", "x-tiergate-cache-ttl": "5" });
    expect(rewrite.status).toBe(200);
    expect(fake.seen.length).toBe(seen + 1); // the client got a fresh answer...
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ttls = await Promise.all((await cacheKeys()).map((k) => storage.redis.ttl(k)));
    expect(ttls.filter((t) => t > 0 && t <= 5)).toEqual([]); // ...but the shared entry kept its own TTL

    const pinned = await ask(fresh(), {}, { ...admin(), "x-tiergate-cache-ttl": "604800" });
    expect(pinned.status).toBe(200);
    await waitFor(async () => (await Promise.all((await cacheKeys()).map((k) => storage.redis.ttl(k)))).some((t) => t > 600_000));
  });

  it("never caches a provider 200 whose body is an error, and answers it as a 502", async () => {
    const prompt = fresh();
    fake.behaviour.errorIn200 = true;
    const failed = await ask(prompt);
    expect(failed.status).toBe(502);
    expect((await failed.json()).error.type).toBe("upstream_error");
    stack.reset();
    expect((await ask(prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("treats Cache-Control: max-age=0 like no-cache", async () => {
    const prompt = fresh();
    await ask(prompt);
    expect((await ask(prompt, {}, { "cache-control": "max-age=0" })).headers.get("x-tiergate-cache")).toBe("BYPASS");
    expect((await ask(prompt, {}, { "cache-control": "max-age = 0" })).headers.get("x-tiergate-cache")).toBe("BYPASS");
  });

  it("marks audit answers, and their refusals, Cache-Control: no-store", async () => {
    const listed = await router.fetch("/v1/audit?limit=1", { headers: admin() });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("cache-control")).toBe("no-store");
    expect((await router.fetch("/v1/audit")).headers.get("cache-control")).toBe("no-store");
  });

  it("caches a stream that finished without data: [DONE], as providers sometimes send", async () => {
    const prompt = fresh();
    fake.behaviour.omitDone = true;
    const text = await (await ask(prompt, { stream: true })).text();
    expect(text).not.toContain('"error"');
    stack.reset();
    await waitFor(async () => (await ask(prompt)).headers.get("x-tiergate-cache") === "HIT");
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
