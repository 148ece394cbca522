/**
 * Circuit breakers two worker processes share through one Redis: seen opening in one,
 * obeyed by the other, closed by a trial after the cool-down, and driven by the
 * cron's provider probes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, freshCircuitView, type Router, startRouter, startTwoProviders, uniquePrompt } from "../support/router.ts";
import { clearHealth, startTestStorage, type TestStorage } from "../support/storage.ts";

/** Tier 3 of one model per provider, priced by the catalog: groq's llama-3.3-70b is the cheaper, openrouter's deepseek the fallback. */
const GROQ_70B = "groq/llama-3.3-70b-versatile";
const DEEPSEEK = "openrouter/deepseek/deepseek-v4-pro";
const entry = (id: string) => {
  const [provider, ...upstream] = id.split("/");
  return { id, provider, upstream_model: upstream.join("/"), tier: 3, context_window: 131_072, capabilities: ["tools", "json", "streaming"] };
};
const TIER_3 = JSON.stringify([entry(GROQ_70B), entry(DEEPSEEK)]);
const COOLDOWN_MS = 1_500;
const CACHE_MS = 200;
let storage: TestStorage;
let providers: Awaited<ReturnType<typeof startTwoProviders>>;
let openrouter: FakeUpstream;
let groq: FakeUpstream;
let first: Router;
let second: Router;

beforeAll(async () => {
  storage = await startTestStorage();
  providers = await startTwoProviders();
  ({ openrouter, groq } = providers);
  const bindings = providers.bindings({
    ...storage.bindings,
    MODELS_JSON: TIER_3,
    UPSTREAM_RETRIES: "0",
    BREAKER_FAILURES: "3",
    BREAKER_COOLDOWN_SECONDS: String(COOLDOWN_MS / 1000),
    HEALTH_CACHE_MS: String(CACHE_MS),
  });
  // Two workerd processes: two sets of isolates that share nothing but Redis.
  [first, second] = await Promise.all([startRouter(bindings), startRouter(bindings)]);
});
afterAll(async () => {
  await Promise.all([first.close(), second.close(), providers.close()]);
  await storage.close();
});
beforeEach(async () => {
  providers.reset();
  await clearHealth(storage);
  await freshCircuitView(CACHE_MS, first, second); // both processes forget what they read
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ask(router: Router) {
  const response = await router.post("/v1/chat/completions", chat(uniquePrompt("breaker"), { model: "tier:3" }));
  await response.arrayBuffer();
  return {
    status: response.status,
    model: response.headers.get("x-tiergate-model"),
    attempts: response.headers.get("x-tiergate-attempts") ?? "",
    reason: response.headers.get("x-tiergate-reason") ?? "",
  };
}
const transitions = async () => storage.redis.hGetAll(`${storage.prefix}:health:transitions`);
const publicHealth = async (router: Router) => (await router.fetch("/health")).json();

describe("a model's breaker, shared by two processes", () => {
  it("opens in one process after 3 failures, is obeyed by the other, and closes after a successful trial", async () => {
    groq.behaviour.errorStatus = 500;
    // Each request fails on groq and is answered by the fallback: three failures in a row.
    for (let i = 0; i < 3; i++)
      expect(await ask(first)).toMatchObject({
        status: 200,
        model: DEEPSEEK,
        attempts: expect.stringMatching(/^groq\/llama-3.3-70b-versatile upstream_error/),
      });
    await sleep(50);
    expect(first.logs.join("\n")).toMatch(/"breaker":"model:groq\/llama-3.3-70b-versatile","state":"open"/);
    expect(await transitions()).toMatchObject({ [`model:${GROQ_70B}|open`]: "1" });

    // The other process has never called groq; within its cache time it skips the model.
    await freshCircuitView(CACHE_MS, second);
    groq.seen.length = 0;
    const skipped = await ask(second);
    expect(skipped).toMatchObject({ status: 200, model: DEEPSEEK });
    expect(skipped.attempts).toMatch(/^openrouter\/deepseek\S+ ok \d+ms$/);
    expect(skipped.reason).toContain(`skipped ${GROQ_70B}: circuit open`);
    expect(groq.seen).toHaveLength(0);
    expect(await publicHealth(second)).toMatchObject({ status: "degraded", models: expect.arrayContaining([{ id: GROQ_70B, state: "open" }]) });

    // The model recovers; after the cool-down one trial closes the circuit for everyone.
    groq.behaviour.errorStatus = undefined;
    await sleep(COOLDOWN_MS + CACHE_MS);
    expect(await publicHealth(second)).toMatchObject({ models: expect.arrayContaining([{ id: GROQ_70B, state: "half_open" }]) });
    expect(await ask(second)).toMatchObject({ status: 200, model: GROQ_70B });
    await sleep(50);
    expect(second.logs.join("\n")).toMatch(/"breaker":"model:groq\/llama-3.3-70b-versatile","state":"closed"/);
    expect(await transitions()).toMatchObject({ [`model:${GROQ_70B}|open`]: "1", [`model:${GROQ_70B}|closed`]: "1" });
    await freshCircuitView(CACHE_MS, first);
    expect(await ask(first)).toMatchObject({ status: 200, model: GROQ_70B, attempts: expect.stringMatching(/^groq\S+ ok \d+ms$/) });
    expect(await publicHealth(first)).toMatchObject({ status: "ok" });
  });

  it("opens again at once when the half-open trial fails", async () => {
    groq.behaviour.errorStatus = 503;
    for (let i = 0; i < 3; i++) await ask(first);
    await sleep(COOLDOWN_MS + CACHE_MS);
    const trial = await ask(second);
    expect(trial).toMatchObject({ status: 200, model: DEEPSEEK, attempts: expect.stringMatching(/^groq\S+ upstream_error/) });
    await sleep(50);
    expect(await transitions()).toMatchObject({ [`model:${GROQ_70B}|open`]: "2" });
    await freshCircuitView(CACHE_MS, first);
    expect((await ask(first)).attempts).toMatch(/^openrouter\S+ ok/);
  });

  it("refuses a request that names an open model with a 503 and Retry-After, and routes 'auto' around it", async () => {
    groq.behaviour.errorStatus = 500;
    for (let i = 0; i < 3; i++) await ask(first);
    await freshCircuitView(CACHE_MS, second);
    const named = await second.post("/v1/chat/completions", chat("hi", { model: GROQ_70B }));
    expect(named.status).toBe(503);
    expect(Number(named.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await named.json()).error).toMatchObject({ code: "model_unavailable", param: "model" });
    const models = await (await second.fetch("/v1/models")).json();
    expect(models.data.find((m: { id: string }) => m.id === GROQ_70B).health).toMatchObject({ state: "open", provider_state: "closed" });
  });
});

describe("provider breakers and the cron's probes", () => {
  it("opens a whole provider when its probe fails, before any client pays, and closes it when the probe passes", async () => {
    groq.behaviour.down = true;
    await first.scheduled();
    expect(await transitions()).toMatchObject({ "provider:groq|open": "1" });
    const health = await (await second.fetch("/health", { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } })).json();
    expect(health.providers.find((p: { id: string }) => p.id === "groq")).toMatchObject({ state: "open", probe: { ok: false, error: "could not be reached" } });
    expect(health.models.filter((m: { id: string }) => m.id.startsWith("groq/")).every((m: { state: string }) => m.state === "open")).toBe(true);

    await freshCircuitView(CACHE_MS, second);
    groq.seen.length = 0;
    // Tier 1 and 3 both hold groq models; none is tried.
    expect(await ask(second)).toMatchObject({ status: 200, model: DEEPSEEK });
    expect(groq.seen).toHaveLength(0);

    groq.behaviour.down = false;
    await second.scheduled();
    expect(await transitions()).toMatchObject({ "provider:groq|open": "1", "provider:groq|closed": "1" });
    await freshCircuitView(CACHE_MS, first);
    expect(await ask(first)).toMatchObject({ status: 200, model: GROQ_70B });
  });

  it("checks every provider live with ?deep=1 (admin only), without waiting for the cron", async () => {
    groq.behaviour.errorStatus = 503;
    const deep = await (await first.fetch("/health?deep=1", { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } })).json();
    expect(deep).toMatchObject({ status: "degraded", storage: { redis: "ok", postgres: "ok" } });
    expect(deep.providers.find((p: { id: string }) => p.id === "groq")).toMatchObject({ state: "open", probe: { ok: false, status: 503 } });
    expect(deep.providers.find((p: { id: string }) => p.id === "openrouter")).toMatchObject({ state: "closed", probe: { ok: true, status: 200 } });
    expect((await first.fetch("/health?deep=1")).status).toBe(401);
  });

  it("opens a provider when calls to it cannot connect, and says 'down' when every provider is", async () => {
    groq.behaviour.down = true;
    openrouter.behaviour.down = true;
    const failed = await ask(first);
    expect(failed.status).toBe(502);
    for (let i = 0; i < 3; i++) await ask(first);
    await freshCircuitView(CACHE_MS, second);
    expect(await transitions()).toMatchObject({ "provider:groq|open": "1", "provider:openrouter|open": "1" });
    expect(await publicHealth(second)).toMatchObject({ status: "down" });
    const refused = await second.post("/v1/chat/completions", chat(uniquePrompt(), { model: "tier:3" }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect((await refused.json()).error.code).toBe("no_healthy_model");
  });

  it("probes a provider without /models by a 1-token completion, when configured so", async () => {
    const { GROQ_API_KEY: _, ...openrouterOnly } = providers.bindings({ ...storage.bindings, PROVIDER_PROBES: JSON.stringify({ openrouter: "completion" }) });
    const probed = await startRouter(openrouterOnly);
    try {
      openrouter.seen.length = 0;
      await probed.scheduled();
      expect(openrouter.seen).toHaveLength(1);
      expect(openrouter.seen[0]!.body).toMatchObject({ model: "mistralai/mistral-nemo", max_tokens: 1 });
    } finally {
      await probed.close();
    }
  });
});

describe("balancing within a tier", () => {
  it("latency-first sends a tier's traffic to its faster model, by the EWMA every process shares", async () => {
    const balanced = await startRouter(
      providers.bindings({ ...storage.bindings, MODELS_JSON: TIER_3, HEALTH_CACHE_MS: "0", TIER_STRATEGIES: JSON.stringify({ "3": "latency" }) }),
    );
    try {
      groq.behaviour.latencyMs = 150;
      const models: string[] = [];
      let reason = "";
      for (let i = 0; i < 12; i++) {
        const answer = await ask(balanced);
        models.push(answer.model!);
        reason = answer.reason;
        await sleep(20); // the batch that carries the latency reaches Redis
      }
      expect(models.slice(0, 3)).toContain(GROQ_70B); // measured once, as a model with no latency yet
      expect(models.slice(-8), JSON.stringify(await storage.redis.hGetAll(`${storage.prefix}:health:latency`))).toEqual(Array(8).fill(DEEPSEEK));
      expect(reason).toMatch(/latency-first: openrouter\/deepseek\S+ \(\d+ ms\) beat groq\/llama-3.3-70b-versatile \(\d+ ms\) in a draw of two/);
      const latency = await storage.redis.hGetAll(`${storage.prefix}:health:latency`);
      expect(Number(latency[`model:${GROQ_70B}`])).toBeGreaterThanOrEqual(150);
      expect(Number(latency[`model:${DEEPSEEK}`])).toBeLessThan(100);
    } finally {
      await balanced.close();
    }
  });
});
