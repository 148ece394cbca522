/** Names clients send by default, through workerd against the fake provider: chat, embeddings and GET /v1/models/{name}. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";

const PRICE_FIELDS = ["input_usd_per_mtok", "output_usd_per_mtok", "cache_read_usd_per_mtok", "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok"];
const HARD = "Prove rigorously that every bounded monotone sequence of real numbers converges, then derive the Bolzano-Weierstrass theorem from it.";
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;
type Listed = { id: string; tier?: number; pricing: Record<string, number | string> };
let listed: Listed[];

beforeAll(async () => {
  stack = await startWithFakeProvider();
  ({ fake, router } = stack);
  listed = (await (await router.fetch("/v1/models")).json()).data;
});
afterAll(() => stack.close());
beforeEach(() => stack.reset());

const priceOf = (id: string): Listed["pricing"] => listed.find((model) => model.id === id)!.pricing;

describe("GET /v1/models", () => {
  it("lists every model's price per usage class, read from the catalog", () => {
    const priced = listed.filter((model) => model.pricing !== undefined);
    expect(priced.length).toBeGreaterThanOrEqual(17);
    for (const model of priced) {
      for (const field of PRICE_FIELDS) expect(model.pricing[field], `${model.id} ${field}`).toEqual(expect.any(Number));
      expect(model.pricing.price_read_on).toMatch(/^genai-prices \d+\.\d+\.\d+$/);
    }
    expect(priceOf("openrouter/anthropic/claude-sonnet-5")).toMatchObject({
      input_usd_per_mtok: 2,
      cache_read_usd_per_mtok: 0.2,
      cache_write_usd_per_mtok: 2.5,
      cache_write_1h_usd_per_mtok: 4,
    });
  });

  it("answers for a registry id's last part, and for names the catalog knows and the registry lacks", async () => {
    const mini = await (await router.fetch("/v1/models/gpt-4o-mini")).json();
    expect(mini).toMatchObject({ id: "openrouter/openai/gpt-4o-mini", tier: 2, pricing: { input_usd_per_mtok: 0.15, cache_read_usd_per_mtok: 0.075 } });
    const turbo = await router.fetch("/v1/models/gpt-3.5-turbo");
    expect(turbo.status).toBe(200);
    const body = await turbo.json();
    expect(body).toMatchObject({ id: "gpt-3.5-turbo", object: "model", owned_by: "openai", routed_as: "auto", max_tier: 3 });
    expect(body.pricing).toMatchObject({ input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5, cache_read_usd_per_mtok: 0.5 });
    for (const field of PRICE_FIELDS) expect(body.pricing[field], field).toEqual(expect.any(Number));
    const ada = await (await router.fetch("/v1/models/text-embedding-ada-002")).json();
    expect(ada).toMatchObject({ id: "text-embedding-ada-002", routed_as: "openrouter/openai/text-embedding-3-small", pricing: { input_usd_per_mtok: 0.1 } });
    const claude = await (await router.fetch("/v1/models/claude-3-5-sonnet-20241022", { headers: { "anthropic-version": "2023-06-01" } })).json();
    expect(claude).toMatchObject({ type: "model", id: "claude-3-5-sonnet-20241022" });
    for (const name of ["gpt-17", "__proto__", "constructor"]) expect((await router.fetch(`/v1/models/${name}`)).status, name).toBe(404);
  });
});

describe("chat with the names clients send", () => {
  it("serves gpt-4o-mini as the registry's model of that id", async () => {
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "gpt-4o-mini" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/openai/gpt-4o-mini");
    expect(fake.seen.at(-1)!.body).toMatchObject({ model: "openai/gpt-4o-mini" });
  });

  it("routes gpt-3.5-turbo as auto, no higher than tier 3 and to no model dearer than it, and says so", async () => {
    for (const prompt of ["hi", HARD]) {
      const response = await router.post("/v1/chat/completions", chat(uniquePrompt(prompt), { model: "gpt-3.5-turbo" }));
      expect(response.status).toBe(200);
      expect(Number(response.headers.get("x-tiergate-tier"))).toBeLessThanOrEqual(3);
      expect(response.headers.get("x-tiergate-reason")).toMatch(/gpt-3\.5-turbo is not in the registry: routed as auto, capped at tier 3, no dearer than it/);
      const served = priceOf(response.headers.get("x-tiergate-model")!);
      expect(served.input_usd_per_mtok as number).toBeLessThanOrEqual(0.5);
      expect(served.output_usd_per_mtok as number).toBeLessThanOrEqual(1.5);
    }
    // The same hard prompt as auto goes higher: the cap is what held it.
    const auto = await router.post("/v1/chat/completions", chat(uniquePrompt(HARD)));
    expect(Number(auto.headers.get("x-tiergate-tier"))).toBeGreaterThan(3);
  });

  it("refuses a name neither the registry nor the catalog knows, in OpenAI's format naming the field", async () => {
    const response = await router.post("/v1/chat/completions", chat("hi", { model: "gpt-17" }));
    expect(response.status).toBe(404);
    expect((await response.json()).error).toMatchObject({ code: "model_not_found", param: "model" });
  });
});

describe("embeddings with the names clients send", () => {
  it("serves text-embedding-ada-002 with the cheapest embedding model no dearer, and text-embedding-3-small by its own name", async () => {
    const ada = await router.post("/v1/embeddings", { model: "text-embedding-ada-002", input: uniquePrompt("embed me") });
    expect(ada.status).toBe(200);
    expect(ada.headers.get("x-tiergate-model")).toBe("openrouter/openai/text-embedding-3-small");
    expect(fake.seen.at(-1)!.body).toMatchObject({ model: "openai/text-embedding-3-small" });
    expect((await ada.json()).data[0].embedding.length).toBe(1_536);
    const small = await router.post("/v1/embeddings", { model: "text-embedding-3-small", input: uniquePrompt("embed me") });
    expect(small.status).toBe(200);
    const chatOnly = await router.post("/v1/embeddings", { model: "gpt-3.5-turbo", input: "x" });
    expect(chatOnly.status).toBe(404);
    expect((await chatOnly.json()).error).toMatchObject({ code: "model_not_found", param: "model" });
  });
});
