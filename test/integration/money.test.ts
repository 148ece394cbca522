/**
 * Money under faults, against the real stack and the fake provider: what a cut stream,
 * a fallback, a lying usage report, a tpm limit and a budget refusal cost and say. Each
 * case is one an outside probe broke at 755867f (issue 22).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { findModel, loadRegistry } from "../../src/routing/registry.ts";
import { ledgerOf } from "../support/ledger.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const registry = loadRegistry(undefined);
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, "cache-control": "no-cache, no-store", ...extra });

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
});
afterAll(async () => {
  await app.close();
  await storage.close();
});
beforeEach(() => app.reset());

const { makeKey, settledRows, spent } = ledgerOf(
  () => app,
  () => storage,
  "money",
);

/** Reads a stream's first `events` data lines, then hangs up. */
async function cutAfter(key: string, body: Record<string, unknown>, events: number): Promise<string> {
  const client = new AbortController();
  const response = await fetch(`${app.router.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...as(key), "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: client.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while ((text.match(/^data: /gm)?.length ?? 0) < events) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  client.abort();
  await reader.cancel().catch(() => {});
  return response.headers.get("x-request-id")!;
}

describe("a stream that does not reach its end is charged what was sent and relayed", () => {
  it("a client that hangs up after 50 of 60 events pays the prompt and the tokens it received", async () => {
    const { id, key } = await makeKey({});
    Object.assign(app.fake.behaviour, { completionTokens: 60, tokenIntervalMs: 5 });
    const requestId = await cutAfter(key, chat(uniquePrompt("cut by the client"), { stream: true }), 50);
    const { rows, micros } = await settledRows(id, 1);
    expect(rows[0]).toMatchObject({ request_id: requestId, truncated: true });
    expect(Number(rows[0]!.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(rows[0]!.completion_tokens)).toBeGreaterThan(20);
    expect(micros).toBeGreaterThan(0);
    expect(await spent(id)).toBe(micros);
    expect(rows[0]!.usage_adjusted).toEqual([expect.stringContaining("no usage reported")]);
  });

  it("a stream the provider breaks after 30 events is charged too", async () => {
    const { id, key } = await makeKey({});
    Object.assign(app.fake.behaviour, { completionTokens: 60, breakAfterChunks: 30 });
    const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("broken by the provider"), { stream: true }), as(key));
    await response.text();
    const { rows, micros } = await settledRows(id, 1);
    expect(rows[0]).toMatchObject({ truncated: true, error_code: "upstream_stream_broken" });
    expect(Number(rows[0]!.completion_tokens)).toBeGreaterThan(0);
    expect(micros).toBeGreaterThan(0);
  });
});

describe("a fallback to a dearer model", () => {
  it("never takes the spend past the budget: each request reserved for the dearest model it could reach", async () => {
    const probe = await (await app.router.post("/v1/route", chat("dear fallbacks", { model: "tier:5", max_tokens: 10 }), as((await makeKey({})).key))).json();
    // Every model of the plan fails but its dearest, which answers every request.
    // The plan is the configured ones (OpenRouter's and Groq's here): the pick's family at unconfigured providers is never tried.
    const plan = [probe.model as string, ...(probe.fallbacks as { model: string }[]).map((fallback) => fallback.model)]
      .map((id) => findModel(registry, id)!)
      .filter((model) => model.provider === "openrouter" || model.provider === "groq")
      .slice(0, 3);
    const dearest = plan.reduce((a, b) => (b.output_usd_per_mtok > a.output_usd_per_mtok ? b : a));
    expect(dearest.id).not.toBe(probe.model);
    const budget = 0.001;
    const { id, key } = await makeKey({ daily_budget_usd: budget });
    app.fake.behaviour.failModels = plan.filter((model) => model !== dearest).map((model) => model.upstream_model);
    app.fake.behaviour.errorStatus = 503;
    app.fake.behaviour.latencyMs = 50;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => app.router.post("/v1/chat/completions", chat(uniquePrompt("dear"), { model: "tier:5", max_tokens: 10 }), as(key))),
    );
    const served = responses.filter((r) => r.status === 200).length;
    expect(served).toBeGreaterThan(0);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    const { micros } = await settledRows(id, 20);
    expect(micros).toBeLessThanOrEqual(budget * 1e6);
    expect(await spent(id)).toBe(micros);
  });
});

describe("a budget that holds the pick but not its dearest fallback", () => {
  it("is served by the pick alone, with no fallback, instead of being refused", async () => {
    const probe = await (await app.router.post("/v1/route", chat("pick alone", { model: "tier:5", max_tokens: 10 }), as((await makeKey({})).key))).json();
    expect(probe.reserved_usd).toBeGreaterThan(probe.estimated_cost_usd);
    const { key } = await makeKey({ daily_budget_usd: Number(((probe.estimated_cost_usd + probe.reserved_usd) / 2).toFixed(6)) });
    const response = await app.router.post("/v1/chat/completions", chat("pick alone", { model: "tier:5", max_tokens: 10 }), as(key));
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-model")).toBe(probe.model);
  });

  it("names the budget that refused the pick alone, when neither fits", async () => {
    const probe = await (await app.router.post("/v1/route", chat("neither", { model: "tier:5", max_tokens: 10 }), as((await makeKey({})).key))).json();
    // The day holds the pick but not its fallback; the month holds neither: the month is what refused.
    const day = Number(((probe.estimated_cost_usd + probe.reserved_usd) / 2).toFixed(6));
    const { key } = await makeKey({ daily_budget_usd: day, monthly_budget_usd: 0.000001 });
    const response = await app.router.post("/v1/chat/completions", chat("neither", { model: "tier:5", max_tokens: 10 }), as(key));
    expect(response.status).toBe(429);
    expect((await response.json()).error.message).toMatch(/monthly budget/);
  });
});

describe("a usage report is bounded by what can have been used", () => {
  it("absurd usage is clamped and never charged past the reservation, JSON or streamed", async () => {
    const { id, key } = await makeKey({ daily_budget_usd: 0.01, monthly_budget_usd: 0.05 });
    const reserved = async (body: Record<string, unknown>) =>
      Math.round(((await (await app.router.post("/v1/route", body, as(key))).json()).reserved_usd as number) * 1e6);
    const ceiling = (await reserved(chat("lying"))) + (await reserved(chat("lying, streamed", { stream: true, model: "openrouter/openai/gpt-4o-mini" })));
    app.fake.behaviour.usage = { prompt_tokens: 1e9, completion_tokens: 1e9 };
    const json = await app.router.post("/v1/chat/completions", chat(uniquePrompt("lying")), as(key));
    expect(json.status).toBe(200);
    await json.arrayBuffer();
    const stream = await app.router.post(
      "/v1/chat/completions",
      chat(uniquePrompt("lying, streamed"), { stream: true, model: "openrouter/openai/gpt-4o-mini" }),
      as(key),
    );
    await stream.text();
    const { rows, micros } = await settledRows(id, 4);
    // Never more than was reserved for them (the two /v1/route rows cost nothing).
    expect(micros).toBeLessThanOrEqual(ceiling);
    const answered = rows.filter((row) => row.attempts !== null);
    expect(answered).toHaveLength(2);
    for (const row of answered) expect(row.usage_adjusted).toEqual(expect.arrayContaining([expect.stringContaining("more than can have been used")]));
    // The key is not refused for the rest of the month.
    app.fake.behaviour.usage = undefined;
    expect((await app.router.post("/v1/chat/completions", chat(uniquePrompt("after the lie")), as(key))).status).toBe(200);
  });

  it("an unbudgeted key is charged no more than the prompt sent and the max_tokens allowed", async () => {
    const { id, key } = await makeKey({});
    app.fake.behaviour.usage = { prompt_tokens: 1e9, completion_tokens: 1e9 };
    const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("lying"), { max_tokens: 16, n: 2 }), as(key));
    await response.arrayBuffer();
    const { rows } = await settledRows(id, 1);
    expect(Number(rows[0]!.completion_tokens)).toBe(32);
    expect(Number(rows[0]!.prompt_tokens)).toBeLessThan(1_000);
  });
});

describe("tokens per minute", () => {
  it("lowers a max_tokens the key can never take to what it can, and says so", async () => {
    const { id, key } = await makeKey({ tpm: 1_000 });
    const capped = await app.router.post("/v1/chat/completions", chat(uniquePrompt("a long answer"), { max_tokens: 5_000 }), as(key));
    expect(capped.status).toBe(200);
    await capped.arrayBuffer();
    const cap = Number(capped.headers.get("x-tiergate-max-tokens"));
    // The prompt and the cap fill the minute's tokens, and no more.
    expect(cap).toBeGreaterThan(900);
    expect(cap).toBeLessThan(1_000);
    expect(app.fake.seen.at(-1)?.body.max_tokens).toBe(cap);
    expect(capped.headers.get("x-tiergate-reason")).toContain(`max_tokens 5000 capped at ${cap}: what the key's tokens per minute can take`);
    const { rows } = await settledRows(id, 1);
    expect(rows[0]!.limit_note).toContain(`max_tokens 5000 capped at ${cap}: what the key's tokens per minute can take`);
  });

  it("refuses a prompt that can never fit with a 400 not to retry, and still serves the ones that fit", async () => {
    const { key } = await makeKey({ tpm: 1_000 });
    // About 900 prompt tokens leave less than LEAST_CAPPED_OUTPUT for the answer.
    const huge = await app.router.post("/v1/chat/completions", chat(`${uniquePrompt("too big")} ${"word ".repeat(720)}`, { max_tokens: 5_000 }), as(key));
    expect(huge.status).toBe(400);
    expect(huge.headers.get("x-should-retry")).toBe("false");
    expect((await huge.json()).error).toMatchObject({ code: "tokens_exceed_limit", param: "max_tokens" });
    const small = await app.router.post("/v1/chat/completions", chat(uniquePrompt("small"), { max_tokens: 50 }), as(key));
    expect(small.status).toBe(200);
    expect(Number(small.headers.get("x-ratelimit-remaining-tokens"))).toBeGreaterThan(800);
  });

  it("debits a correction the bucket cannot cover, and stops a refund at the limit", async () => {
    const { key } = await makeKey({ tpm: 1_000 });
    // A long prompt, so the provider's larger count is within what was sent; the correction is more than the bucket holds.
    const long = "Please read this paragraph carefully. ".repeat(12);
    app.fake.behaviour.promptTokens = 1_100;
    const first = await app.router.post("/v1/chat/completions", chat(`${long}${uniquePrompt()}`, { max_tokens: 10 }), as(key));
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    app.reset();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await app.router.post("/v1/chat/completions", chat(uniquePrompt("next"), { max_tokens: 10 }), as(key));
    expect(next.status).toBe(429);
    // A big reservation mostly refunded: the bucket never holds more than the limit.
    const { key: other } = await makeKey({ tpm: 1_000 });
    app.fake.behaviour.latencyMs = 1_000; // a refill happens while the call runs
    const refunded = await app.router.post("/v1/chat/completions", chat(uniquePrompt("refunded"), { max_tokens: 900 }), as(other));
    await refunded.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const peek = await app.router.post("/v1/route", chat("hi"), as(other));
    expect(Number(peek.headers.get("x-ratelimit-remaining-tokens"))).toBeLessThanOrEqual(1_000);
    expect(Number(peek.headers.get("x-ratelimit-remaining-tokens"))).toBeGreaterThan(900);
  });

  it("says both limits on every answer to a key with limits: /v1/route, a 403, a cache hit", async () => {
    const { key: tpmOnly } = await makeKey({ tpm: 5_000 });
    const route = await app.router.post("/v1/route", chat("hi"), as(tpmOnly));
    expect(route.headers.get("x-ratelimit-limit-tokens")).toBe("5000");
    expect(route.headers.get("x-ratelimit-remaining-tokens")).toMatch(/^\d+$/);
    const { key } = await makeKey({ rpm: 100, tpm: 5_000, models: ["groq/llama-3.1-8b-instant"] });
    const refused = await app.router.post("/v1/chat/completions", chat("hi", { model: "openrouter/openai/gpt-5.5" }), as(key));
    expect(refused.status).toBe(403);
    for (const response of [refused]) {
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("100");
      expect(response.headers.get("x-ratelimit-limit-tokens")).toBe("5000");
    }
    const prompt = chat(uniquePrompt("hit"));
    await (await app.router.post("/v1/chat/completions", prompt, { authorization: `Bearer ${key}` })).arrayBuffer();
    const hit = await app.router.post("/v1/chat/completions", prompt, { authorization: `Bearer ${key}` });
    expect(hit.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(hit.headers.get("x-ratelimit-limit-tokens")).toBe("5000");
    expect(hit.headers.get("x-ratelimit-remaining-tokens")).toMatch(/^\d+$/);
  });
});

describe("the cache keys what was sent", () => {
  it("an answer written under the router's own max_tokens is not served to a key without a budget", async () => {
    const { key: budgeted } = await makeKey({ tenant: "sent", daily_budget_usd: 5 });
    const { key: free } = await makeKey({ tenant: "sent" });
    const prompt = chat(uniquePrompt("bounded"));
    const first = await app.router.post("/v1/chat/completions", prompt, { authorization: `Bearer ${budgeted}` });
    await first.arrayBuffer();
    expect(app.fake.seen.at(-1)?.body).toMatchObject({ max_tokens: 512 });
    const second = await app.router.post("/v1/chat/completions", prompt, { authorization: `Bearer ${free}` });
    expect(second.headers.get("x-tiergate-cache")).toBe("MISS");
  });
});

describe("rounding", () => {
  it("a $0 budget serves nothing, and a tier-1 answer costs at least a micro-dollar", async () => {
    const { key: broke } = await makeKey({ daily_budget_usd: 0 });
    const refused = await app.router.post("/v1/chat/completions", chat(uniquePrompt("tiny"), { model: "tier:1" }), as(broke));
    expect(refused.status).toBe(429);
    const { id, key } = await makeKey({});
    const served = await app.router.post("/v1/chat/completions", chat(uniquePrompt("tiny"), { model: "tier:1" }), as(key));
    expect(Number(served.headers.get("x-tiergate-cost-usd"))).toBeGreaterThanOrEqual(0.000001);
    await served.arrayBuffer();
    const { micros } = await settledRows(id, 1);
    expect(micros).toBeGreaterThanOrEqual(1);
  });

  it("refuses a budget below a micro-dollar, which it could not store", async () => {
    const response = await app.router.fetch("/v1/admin/keys", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name: "dust", daily_budget_usd: 1e-9 }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.param).toBe("daily_budget_usd");
  });
});

describe("spend as the admin sees it", () => {
  it("sums whole micro-dollars, shows budgets as numbers, and the live counter beside the audit log's", async () => {
    const { id, key } = await makeKey({ daily_budget_usd: 0.01 });
    for (let i = 0; i < 3; i++) await (await app.router.post("/v1/chat/completions", chat(uniquePrompt("spend")), as(key))).arrayBuffer();
    const { micros } = await settledRows(id, 3);
    const shown = await (await app.router.fetch(`/v1/admin/keys/${id}`, { headers: admin() })).json();
    expect(shown.daily_budget_usd).toBe(0.01);
    expect(Number.isInteger(Math.round(shown.spend.today_usd * 1e6))).toBe(true);
    expect(shown.spend.today_usd).toBe(micros / 1e6);
    expect(shown.spend.live).toEqual({ today_usd: micros / 1e6, month_usd: micros / 1e6 });
  });
});

describe("a budget refusal", () => {
  it("says not to retry, when the budget is whole again, and whose budget it is", async () => {
    const { key } = await makeKey({ daily_budget_usd: 0 });
    const refused = await app.router.post("/v1/chat/completions", chat(uniquePrompt("broke")), as(key));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-should-retry")).toBe("false");
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Math.abs(Number(refused.headers.get("retry-after")) - (midnight - now.getTime()) / 1000)).toBeLessThan(5);
    expect((await refused.json()).error.message).toMatch(/^This key's daily budget is spent/);
  });
});

describe("a budget near its end caps max_tokens rather than refusing (engine/output-cap.ts)", () => {
  const turn = (max_tokens: number) => chat("cap me at what is left", { model: "tier:1", max_tokens });

  it("sends the provider what the budget can still pay, says so, and records it", async () => {
    const probe = await (await app.router.post("/v1/route", turn(3_000), as((await makeKey({})).key))).json();
    const budget = Math.floor(probe.estimated_cost_usd * 1e6) / 1e6;
    const { id, key } = await makeKey({ daily_budget_usd: budget });
    // It would write far more than it is allowed.
    app.fake.behaviour.completionTokens = 50_000;
    const calls = () => app.fake.seen.filter((seen) => seen.path.endsWith("/chat/completions")).length;
    const before = calls();
    const response = await app.router.post("/v1/chat/completions", turn(32_000), as(key));
    expect(response.status).toBe(200);
    const cap = Number(response.headers.get("x-tiergate-max-tokens"));
    expect(cap).toBeGreaterThan(2_900);
    expect(cap).toBeLessThan(3_000);
    expect(calls()).toBe(before + 1);
    expect(app.fake.seen.at(-1)!.body.max_tokens).toBe(cap);
    expect(response.headers.get("x-tiergate-reason")).toContain(`max_tokens 32000 capped at ${cap}`);
    await response.arrayBuffer();
    const { rows, micros } = await settledRows(id, 1);
    expect(rows[0]!.limit_note).toBe(`max_tokens 32000 capped at ${cap}: what the budget can still pay`);
    expect(Number(rows[0]!.completion_tokens)).toBe(cap);
    expect(micros).toBeLessThanOrEqual(budget * 1e6);

    // What is left cannot pay 256 tokens: refused, as a spent budget is.
    const next = await app.router.post("/v1/chat/completions", turn(32_000), as(key));
    expect(next.status).toBe(429);
    expect((await next.json()).error.code).toBe("insufficient_quota");
    expect(calls()).toBe(before + 1);
  });

  it("keeps an agent's turns of max_tokens 128000 going until the budget is spent, and never past it", async () => {
    const probe = async (max_tokens: number) =>
      (await (await app.router.post("/v1/route", turn(max_tokens), as((await makeKey({})).key))).json()).estimated_cost_usd * 1e6;
    const budget = Math.floor(await probe(12_000)) / 1e6;
    const { id, key } = await makeKey({ daily_budget_usd: budget });
    app.fake.behaviour.completionTokens = 2_000;
    const statuses: number[] = [];
    const caps: number[] = [];
    for (let i = 0; i < 20 && statuses.at(-1) !== 429; i++) {
      const response = await app.router.post(
        "/v1/messages",
        { model: "tier:1", max_tokens: 128_000, messages: [{ role: "user", content: "cap me at what is left" }] },
        { ...as(key), "anthropic-version": "2023-06-01" },
      );
      statuses.push(response.status);
      const body = await response.json();
      if (response.status === 200) {
        const cap = Number(response.headers.get("x-tiergate-max-tokens"));
        caps.push(cap);
        expect(body.stop_reason).toBe(cap < 2_000 ? "max_tokens" : "end_turn");
      } else expect(body.error.type).toBe("rate_limit_error");
      await settledRows(id, statuses.length);
    }
    // Each turn is capped lower than the last, down to what a 256-token answer costs, then refused.
    expect(statuses.at(-1)).toBe(429);
    expect(caps.length).toBeGreaterThanOrEqual(5);
    expect(caps).toEqual([...caps].sort((a, b) => b - a));
    expect(caps.at(-1)).toBeLessThan(2_000);
    const { micros } = await settledRows(id, statuses.length);
    expect(micros).toBeLessThanOrEqual(budget * 1e6);
    expect(budget * 1e6 - micros).toBeLessThan(await probe(256));
  });
});
