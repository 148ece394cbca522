/** Rate limits, budgets and caps per key, global across worker processes, against real Redis and Postgres. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let one: Awaited<ReturnType<typeof startWithFakeProvider>>;
let two: Awaited<ReturnType<typeof startWithFakeProvider>>;
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const bearer = (key: string) => ({ authorization: `Bearer ${key}`, "cache-control": "no-cache" });

beforeAll(async () => {
  storage = await startTestStorage();
  // Two worker processes sharing one Redis: what "global" means.
  one = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
  two = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
});
afterAll(async () => {
  await one.close();
  await two.close();
  await storage.close();
});

async function makeKey(fields: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await one.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "limits", ...fields }) });
  expect(response.status).toBe(201);
  return response.json();
}

describe("requests per minute, across two worker processes", () => {
  it("admits exactly N of N+k requests, with OpenAI's headers on every answer", async () => {
    const { key } = await makeKey({ rpm: 5 });
    const routers = [one.router, two.router];
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => routers[i % 2]!.post("/v1/route", chat("hi"), bearer(key))));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    for (const response of responses) {
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("5");
      expect(response.headers.get("x-ratelimit-remaining-requests")).toMatch(/^[0-5]$/);
      expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+s$/);
    }
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await refused.json()).error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
  });
});

describe("requests per minute by lease, across three worker processes", () => {
  it("admits exactly N of thirty concurrent requests, and says when the next one fits", async () => {
    const three = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    try {
      const { key } = await makeKey({ rpm: 5 });
      const routers = [one.router, two.router, three.router];
      const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => routers[i % 3]!.post("/v1/route", chat("hi"), bearer(key))));
      expect(responses.filter((r) => r.status === 200)).toHaveLength(5);
      expect(responses.filter((r) => r.status === 429)).toHaveLength(25);
      // The window is a minute, counted from each grant and the 6 s a granted request stays usable, and 1 s of clock slack.
      for (const refused of responses.filter((r) => r.status === 429))
        expect(Number(refused.headers.get("retry-after"))).toSatisfy((s: number) => s > 50 && s <= 67);
      // Still refused a moment later, from every process: the window holds whoever asks.
      const again = await Promise.all(routers.map((router) => router.post("/v1/route", chat("hi"), bearer(key))));
      expect(again.map((r) => r.status)).toEqual([429, 429, 429]);
    } finally {
      await three.close();
    }
  });
});

describe("tokens per minute", () => {
  it("debits the estimate before the call and refuses what would pass the limit", async () => {
    const { key } = await makeKey({ tpm: 300 });
    one.fake.behaviour.completionTokens = 200; // the answer uses what was reserved: no refund lets the second in
    const ask = () => one.router.post("/v1/chat/completions", chat(uniquePrompt(), { max_tokens: 200 }), bearer(key));
    const first = await ask();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("300");
    const second = await ask();
    one.reset();
    expect(second.status).toBe(429);
    expect((await second.json()).error.code).toBe("rate_limit_exceeded");
  });

  it("refunds what the answer did not use", async () => {
    const { key } = await makeKey({ tpm: 300 });
    const ask = () => one.router.post("/v1/chat/completions", chat(uniquePrompt(), { max_tokens: 200 }), bearer(key));
    expect((await ask()).status).toBe(200);
    // The fake writes 8 tokens of the 200 reserved: once settled, the bucket has room again.
    const deadline = Date.now() + 3_000;
    let next = await ask();
    while (next.status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      next = await ask();
    }
    expect(next.status).toBe(200);
  });
});

describe("budgets", () => {
  it("lets ten concurrent first requests spend no more than the budget", async () => {
    const probe = await (
      await one.router.post("/v1/route", chat("budget probe", { model: "openrouter/openai/gpt-5.5", max_tokens: 1000 }), bearer((await makeKey({})).key))
    ).json();
    // A named model has no fallbacks: each reserves its own estimate (/v1/route's reserved_usd).
    const reserved = probe.reserved_usd as number;
    expect(reserved).toBe(probe.estimated_cost_usd);
    // What is left after three pays under LEAST_CAPPED_OUTPUT tokens: the fourth is refused, not capped.
    const { key } = await makeKey({ daily_budget_usd: Number((reserved * 3.2).toFixed(6)) });
    one.fake.behaviour.latencyMs = 400; // every reservation is made before any answer settles
    try {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () =>
          one.router.post("/v1/chat/completions", chat("budget probe", { model: "openrouter/openai/gpt-5.5", max_tokens: 1000 }), bearer(key)),
        ),
      );
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
      // The three in flight hold the money, none of it spent yet: a retryable refusal, not "spent".
      const refused = responses.find((r) => r.status === 429)!;
      expect(refused.headers.get("x-should-retry")).toBe("true");
      expect((await refused.json()).error).toMatchObject({ type: "rate_limit_error", code: "budget_held" });
      // A refusal after the cache was asked is a miss, as the metrics and the SLO's hit rate count it.
      const broke = await makeKey({ daily_budget_usd: 0 });
      const asked = await one.router.post("/v1/chat/completions", chat(uniquePrompt("spent"), { model: "tier:5", max_tokens: 1000 }), {
        authorization: `Bearer ${broke.key}`,
      });
      expect(asked.status).toBe(429);
      expect(asked.headers.get("x-tiergate-cache")).toBe("MISS");
    } finally {
      one.reset();
    }
  });

  it("keeps a key's spend equal to the sum of its audit rows' cost, to the micro-dollar, after a mixed run", async () => {
    const { id, key } = await makeKey({ tenant: "mixed" });
    const send = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      const response = await one.router.post("/v1/chat/completions", body, { authorization: `Bearer ${key}`, ...headers });
      await response.arrayBuffer();
      return response.status;
    };
    const cached = chat(uniquePrompt("cached"));
    expect(await send(cached)).toBe(200);
    expect(await send(cached)).toBe(200); // a cache hit: costs nothing
    expect(await send(chat(uniquePrompt("streamed"), { stream: true, model: "tier:4" }))).toBe(200);
    one.fake.behaviour.breakAfterChunks = 2;
    expect(await send(chat(uniquePrompt("broken stream"), { stream: true }))).toBe(200);
    one.reset();
    one.fake.behaviour.errorStatus = 500;
    expect(await send(chat(uniquePrompt("fails")))).toBe(502);
    one.reset();
    expect(await send(chat(uniquePrompt("plain"), { model: "tier:3" }))).toBe(200);

    const deadline = Date.now() + 8_000;
    let rows: Record<string, unknown>[] = [];
    while (rows.length < 6 && Date.now() < deadline) {
      await one.router.scheduled();
      rows = (await auditRows(storage.db)).filter((r) => r.key_id === id);
    }
    expect(rows).toHaveLength(6);
    const audited = rows.reduce((sum, r) => sum + Math.round(Number(r.cost_usd ?? 0) * 1e6), 0);
    expect(audited).toBeGreaterThan(0);
    const month = new Date().toISOString().slice(0, 7).replace("-", "");
    const counter = async () => Number(await storage.redis.get(`${storage.prefix}:spend:key:${id}:m:${month}`));
    const settled = Date.now() + 3_000;
    while ((await counter()) !== audited && Date.now() < settled) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await counter()).toBe(audited);
    const usage = await (await one.router.fetch("/v1/usage", { headers: { authorization: `Bearer ${key}` } })).json();
    expect(Math.round(usage.key.month.spent_usd * 1e6)).toBe(audited);
    expect(Math.round(usage.tenant.month.spent_usd * 1e6)).toBe(audited);
    const shown = await (await one.router.fetch(`/v1/admin/keys/${id}`, { headers: admin() })).json();
    expect(Math.round(shown.spend.month_usd * 1e6)).toBe(audited);
  });
});

describe("budgets by lease, across three worker processes", () => {
  const o3 = (prompt = "budget probe") => chat(prompt, { model: "openrouter/openai/gpt-5.5", max_tokens: 1000 });
  /** The key's audit rows once `count` are in Postgres, and the sum of their cost in micro-dollars. */
  const audited = async (id: string, count: number): Promise<number> => {
    const deadline = Date.now() + 8_000;
    let rows: Record<string, unknown>[] = [];
    while (rows.length < count && Date.now() < deadline) {
      await one.router.scheduled();
      rows = (await auditRows(storage.db)).filter((r) => r.key_id === id);
    }
    expect(rows).toHaveLength(count);
    return rows.reduce((sum, r) => sum + Math.round(Number(r.cost_usd ?? 0) * 1e6), 0);
  };
  const day = () => new Date().toISOString().slice(0, 10).replaceAll("-", "");
  const counter = async (id: string, suffix = ""): Promise<number> =>
    Number((await storage.redis.get(`${storage.prefix}:spend:key:${id}:d:${day()}${suffix}`)) ?? 0);
  /** Waits until the spend counter is `micros` (each answer's spend rides its after-response batch). */
  const spendReaches = async (id: string, micros: number): Promise<number> => {
    const deadline = Date.now() + 3_000;
    while ((await counter(id)) !== micros && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return counter(id);
  };

  it("serves exactly three of thirty concurrent requests against a budget worth 3.2, and counts what the audit rows sum to", async () => {
    const three = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    const fakes = [one, two, three];
    try {
      const reserved = (await (await one.router.post("/v1/route", o3(), bearer((await makeKey({})).key))).json()).reserved_usd as number;
      // What is left after three pays under LEAST_CAPPED_OUTPUT tokens: a fourth is refused, not capped.
      const budget = Number((reserved * 3.2).toFixed(6));
      const { id, key } = await makeKey({ daily_budget_usd: budget });
      // Every answer uses what was reserved for it, and every reservation is made before any answer settles.
      for (const f of fakes) Object.assign(f.fake.behaviour, { latencyMs: 400, completionTokens: 1000 });
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => fakes[i % 3]!.router.post("/v1/chat/completions", o3(uniquePrompt("3.2")), bearer(key))),
      );
      await Promise.all(responses.map((r) => r.arrayBuffer()));
      expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
      expect(responses.filter((r) => r.status === 429)).toHaveLength(27);
      const sum = await audited(id, 30);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThanOrEqual(Math.round(budget * 1e6));
      expect(await spendReaches(id, sum)).toBe(sum);
      expect(await counter(id, ":committed")).toBeLessThanOrEqual(Math.round(budget * 1e6));
    } finally {
      for (const f of fakes) f.reset();
      await three.close();
    }
  });

  it("gives back a killed process's slices when their hold expires, and loses or counts twice nothing", async () => {
    const doomed = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    const { id, key } = await makeKey({ daily_budget_usd: 5 });
    // A few answers from the doomed process: its slice is sized to their rate, and outlives them.
    for (let i = 0; i < 4; i++) await (await doomed.router.post("/v1/chat/completions", chat(uniquePrompt("doomed")), bearer(key))).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last batch
    await doomed.close();
    const spent = await counter(id);
    expect(spent).toBe(await audited(id, 4));
    const stranded = (await counter(id, ":committed")) - spent;
    expect(stranded).toBeGreaterThan(0);
    expect(stranded).toBeLessThanOrEqual(Math.ceil((5e6 - spent) / 10) + 10_000);
    // Its hold runs out (HOLD_MS; here made to have run out): the next grant anywhere gives the slice back.
    const hold = `${storage.prefix}:spend:key:${id}:hold`;
    const held = (await storage.redis.hGetAll(hold)) as Record<string, string>;
    expect(Object.keys(held).length).toBeGreaterThan(0);
    for (const [field, value] of Object.entries(held)) await storage.redis.hSet(hold, field, `1|${value.split("|")[1]}`);
    const next = await one.router.post("/v1/chat/completions", chat(uniquePrompt("survivor")), bearer(key));
    expect(next.status).toBe(200);
    await next.arrayBuffer();
    const sum = await audited(id, 5);
    expect(await spendReaches(id, sum)).toBe(sum);
    // What is carved out now is the survivor's live slice alone.
    const live = Object.values((await storage.redis.hGetAll(hold)) as Record<string, string>).reduce((total, value) => total + Number(value.split("|")[1]), 0);
    expect((await counter(id, ":committed")) - sum).toBe(live);
  });

  it("refuses a revoked key from every process under load within 45 s", { timeout: 60_000 }, async () => {
    const three = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    const routers = [one.router, two.router, three.router];
    try {
      const { id, key } = await makeKey({ rpm: 100_000, daily_budget_usd: 50 });
      // From an address of its own: the refusals count as failed key checks, which would block this file's other tests.
      const load = (router: (typeof routers)[number]) =>
        router.post("/v1/route", chat("hi"), { ...bearer(key), "cf-connecting-ip": "203.0.113.26" }).then((r) => r.status);
      expect(await Promise.all(routers.map(load))).toEqual([200, 200, 200]);
      const revoked = await one.router.fetch(`/v1/admin/keys/${id}`, { method: "DELETE", headers: admin() });
      expect(revoked.status).toBe(200);
      const since = Date.now();
      const refusedAt: (number | undefined)[] = [undefined, undefined, undefined];
      while (refusedAt.includes(undefined) && Date.now() - since < 45_000) {
        // Each process under load until it refuses twice running.
        const statuses = await Promise.all(
          routers.flatMap((router, i) => (refusedAt[i] === undefined ? [load(router), load(router)] : [Promise.resolve(401), Promise.resolve(401)])),
        );
        routers.forEach((_, i) => {
          if (refusedAt[i] === undefined && statuses[2 * i] === 401 && statuses[2 * i + 1] === 401) refusedAt[i] = Date.now() - since;
        });
      }
      expect(refusedAt.every((ms) => ms !== undefined && ms < 45_000)).toBe(true);
      // Once refused, refused for good.
      expect(await Promise.all(routers.map(load))).toEqual([401, 401, 401]);
    } finally {
      await three.close();
    }
  });
});

describe("what a key may route to", () => {
  it("caps auto at the key's highest tier, and refuses a forced tier or a model beyond it with 403", async () => {
    const { key } = await makeKey({ max_tier: 2, models: null });
    const hard = chat("Prove that there are infinitely many primes, then derive the prime number theorem's error term rigorously.", { max_tokens: 100 });
    const routed = await (await one.router.post("/v1/route", hard, bearer(key))).json();
    expect(routed.tier).toBeLessThanOrEqual(2);
    const forced = await one.router.post("/v1/route", chat("hi", { model: "tier:5" }), bearer(key));
    expect(forced.status).toBe(403);
    expect((await forced.json()).error.code).toBe("tier_not_allowed");
    const named = await one.router.post("/v1/route", chat("hi", { model: "openrouter/anthropic/claude-opus-5.5" }), bearer(key));
    expect(named.status).toBe(403);
  });

  it("keeps to the allow-list", async () => {
    const { key } = await makeKey({ models: ["groq/llama-3.1-8b-instant"] });
    const routed = await (await one.router.post("/v1/route", chat("hi"), bearer(key))).json();
    expect(routed.model).toBe("groq/llama-3.1-8b-instant");
    const other = await one.router.post("/v1/route", chat("hi", { model: "openrouter/mistralai/mistral-nemo" }), bearer(key));
    expect(other.status).toBe(403);
    expect((await other.json()).error.code).toBe("model_not_allowed");
  });
});

describe("with Redis down", () => {
  it("serves within no limit but says so, and refuses a budgeted key (budgets fail closed)", async () => {
    const limited = await makeKey({ rpm: 1 });
    const budgeted = await makeKey({ daily_budget_usd: 10 });
    const cut = await startWithFakeProvider({
      ...storage.bindings,
      REQUIRE_API_KEY: "true",
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
      REDIS_TIMEOUT_MS: "200",
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const served = await cut.router.post("/v1/chat/completions", chat(uniquePrompt()), bearer(limited.key));
        expect(served.status).toBe(200);
        expect(served.headers.get("x-tiergate-limits")).toBe("unchecked");
        ids.push(served.headers.get("x-request-id")!);
      }
      // With Redis down the records go straight to Postgres, and each says its limit went unchecked.
      const deadline = Date.now() + 5_000;
      let rows: Record<string, unknown>[] = [];
      while (rows.length < 3 && Date.now() < deadline) {
        rows = (await auditRows(storage.db)).filter((r) => ids.includes(String(r.request_id)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(rows.map((r) => r.limit_note)).toEqual(Array(3).fill("requests per minute unchecked: Redis unavailable (limits fail open)"));
      const refused = await cut.router.post("/v1/chat/completions", chat(uniquePrompt()), bearer(budgeted.key));
      expect(refused.status).toBe(503);
      expect((await refused.json()).error.code).toBe("budget_unavailable");
    } finally {
      await cut.close();
    }
  });
});

describe("CORS and settings", () => {
  it("is off by default, and answers preflights only for the configured origins", async () => {
    const preflight = (router: typeof one.router, origin: string) =>
      router.fetch("/v1/chat/completions", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
    const off = await preflight(one.router, "https://app.example.com");
    expect(off.headers.get("access-control-allow-origin")).toBeNull();
    const withCors = await startWithFakeProvider({ CORS_ORIGINS: "https://app.example.com" });
    try {
      const allowed = await preflight(withCors.router, "https://app.example.com");
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(allowed.headers.get("access-control-allow-headers")).toContain("authorization");
      const other = await preflight(withCors.router, "https://evil.example.com");
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
      const simple = await withCors.router.post("/v1/route", chat("hi"), { origin: "https://app.example.com" });
      expect(simple.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    } finally {
      await withCors.close();
    }
  });

  it("keeps serving with a too-short admin key, closing only the admin routes", async () => {
    const misconfigured = await startWithFakeProvider({ ADMIN_API_KEY: "short" });
    try {
      expect((await misconfigured.router.post("/v1/chat/completions", chat(uniquePrompt()))).status).toBe(200);
      const closed = await misconfigured.router.fetch("/v1/audit", { headers: { authorization: "Bearer short" } });
      expect(closed.status).toBe(503);
      const body = await closed.text();
      expect(JSON.parse(body).error.code).toBe("admin_misconfigured");
      expect(body).not.toContain('"short"');
      // Still up (degraded only for want of Redis and Postgres here), and the problem is not told to strangers.
      expect(await (await misconfigured.router.fetch("/health")).json()).toMatchObject({ status: "degraded", constitutional_hash: "cdd01ef066bc6cf2" });
    } finally {
      await misconfigured.close();
    }
  });
});
