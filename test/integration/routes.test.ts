/** The decision, the registry, health and the constitutional-hash rules, through workerd. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, type Router, startRouter } from "../support/router.ts";

const HASH = "cdd01ef066bc6cf2";
const ADMIN_KEY = "routes-admin-key-0123456789";
const asAdmin = { headers: { authorization: `Bearer ${ADMIN_KEY}` } };
let router: Router;

beforeAll(async () => (router = await startRouter({ ADMIN_API_KEY: ADMIN_KEY })));
afterAll(() => router.close());

describe("POST /v1/route with no provider key", () => {
  it("answers a greeting with tier 1 or 2, spending nothing", async () => {
    const response = await router.post("/v1/route", chat("Hi! How's it going?"));
    expect(response.status).toBe(200);
    const decision = await response.json();
    expect(decision.tier).toBeLessThanOrEqual(2);
    expect(decision).toMatchObject({ provider_configured: false, constitutional_hash: HASH, mode: "auto" });
    for (const key of ["tier", "score", "model", "provider", "features", "reasons", "fallbacks", "estimated_cost_usd"]) {
      expect(decision).toHaveProperty(key);
    }
  });

  it.each([
    [
      "a multi-part proof",
      "Prove that for every integer n >= 1 the sum 1^3 + ... + n^3 equals (n(n+1)/2)^2. First prove it by induction, then give a combinatorial proof, and finally show that the identity fails for fourth powers.",
    ],
    [
      "a system design",
      "Design a multi-region event-sourcing architecture for a payments system: describe the data model, consensus and replication strategy, how you ensure exactly-once processing, the failure modes, and the latency and consistency trade-offs. Compare at least two alternatives.",
    ],
  ])("answers %s with tier 4 or 5", async (_, prompt) => {
    const decision = await (await router.post("/v1/route", chat(prompt))).json();
    expect(decision.tier).toBeGreaterThanOrEqual(4);
    expect(decision.fallbacks.length).toBeGreaterThan(0);
    expect(decision.estimated_cost_usd).toBeGreaterThan(0);
    expect(decision.reasons.join(" ")).toMatch(/proof|design/);
  });

  it("escalates an image to a vision-capable model", async () => {
    const body = {
      model: "tier:1",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "hi" },
            { type: "image_url", image_url: { url: "https://x/y.png" } },
          ],
        },
      ],
    };
    const decision = await (await router.post("/v1/route", body)).json();
    expect(decision.tier).toBe(2);
    expect(decision.reasons).toContain("escalated to tier 2");
  });
});

describe("GET /v1/models and /health", () => {
  it("lists the registry in OpenAI's format with tier, prices and context window", async () => {
    const list = await (await router.fetch("/v1/models")).json();
    expect(list.object).toBe("list");
    // The router's own names first, which a client may send as the model: auto and each tier.
    expect(list.data.slice(0, 6).map((model: { id: string }) => model.id)).toEqual(["auto", "tier:1", "tier:2", "tier:3", "tier:4", "tier:5"]);
    for (const name of list.data.slice(0, 6)) expect(name).toMatchObject({ object: "model", owned_by: "tiergate" });
    // Then the chat registry, then the embedding models (POST /v1/embeddings), which have no tier.
    const registry = list.data.slice(6).filter((model: { type?: string }) => model.type !== "embedding");
    expect(registry.length).toBeGreaterThanOrEqual(11);
    for (const model of registry) {
      expect(model).toMatchObject({ object: "model", owned_by: expect.any(String), tier: expect.any(Number) });
      expect(model.pricing).toMatchObject({ input_usd_per_mtok: expect.any(Number), output_usd_per_mtok: expect.any(Number) });
      expect(model.context_window).toBeGreaterThan(0);
    }
    const embedding = list.data.slice(6 + registry.length);
    expect(embedding.map((model: { id: string }) => model.id)).toEqual([
      "openrouter/openai/text-embedding-3-small",
      "openrouter/openai/text-embedding-3-large",
    ]);
    for (const model of embedding) expect(model).toMatchObject({ type: "embedding", dimensions: expect.any(Number), pricing: { output_usd_per_mtok: 0 } });
  });

  it("tells anyone the status and circuits only; the admin key sees version, hash and unconfigured providers with what to set", async () => {
    const publicHealth = await router.fetch("/health");
    expect(await publicHealth.json()).toEqual({ status: "down", constitutional_hash: HASH, providers: [], models: [] });
    expect(publicHealth.headers.get("cache-control")).toBe("no-store");
    const wrongKey = await (await router.fetch("/health", { headers: { authorization: "Bearer not-the-admin-key-000" } })).json();
    expect(Object.keys(wrongKey).sort()).toEqual(["constitutional_hash", "models", "providers", "status"]);
    const deep = await router.fetch("/health?deep=1", { headers: { authorization: "Bearer not-the-admin-key-000" } });
    expect(deep.status).toBe(401);
    const health = await (await router.fetch("/health", asAdmin)).json();
    expect(health).toMatchObject({
      status: "down",
      breakers: "off: needs Redis",
      version: "0.1.0",
      constitutional_hash: HASH,
      storage: { redis: "not configured", postgres: "not configured" },
      cache: "isolate only",
    });
    const route = await router.post("/v1/route", chat("hi"));
    expect(route.headers.get("x-tiergate-degraded")).toBe("redis,postgres");
    expect(health.providers).toContainEqual(expect.objectContaining({ id: "groq", configured: false, configure_with: "GROQ_API_KEY" }));
  });
});

describe("the constitutional hash", () => {
  it("is on every response: success, 404, 405, 400 and 409", async () => {
    const responses = await Promise.all([
      router.fetch("/health"),
      router.fetch("/nowhere"),
      router.fetch("/v1/route"),
      router.post("/v1/route", "{"),
      router.post("/v1/route", chat("hi"), { "x-constitutional-hash": "0000000000000000" }),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, 404, 405, 400, 409]);
    for (const response of responses) {
      expect(response.headers.get("x-constitutional-hash")).toBe(HASH);
      expect(response.headers.get("strict-transport-security")).toMatch(/^max-age=\d+/);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });

  it("lets a request that names the pinned hash through, and refuses any other with 409", async () => {
    expect((await router.post("/v1/route", chat("hi"), { "x-constitutional-hash": HASH })).status).toBe(200);
    // The same header twice arrives joined by a comma: still only the pinned hash.
    const twice = new Headers({ "content-type": "application/json" });
    twice.append("x-constitutional-hash", HASH);
    twice.append("x-constitutional-hash", HASH);
    expect((await router.fetch("/v1/route", { method: "POST", headers: twice, body: JSON.stringify(chat("hi")) })).status).toBe(200);
    const mixed = new Headers({ "content-type": "application/json" });
    mixed.append("x-constitutional-hash", HASH);
    mixed.append("x-constitutional-hash", "deadbeefdeadbeef");
    expect((await router.fetch("/v1/route", { method: "POST", headers: mixed, body: JSON.stringify(chat("hi")) })).status).toBe(409);
    const refused = await router.post("/v1/chat/completions", chat("hi"), { "x-constitutional-hash": "deadbeefdeadbeef" });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: {
        message: expect.stringContaining(HASH),
        type: "invalid_request_error",
        param: "x-constitutional-hash",
        code: "constitutional_hash_mismatch",
      },
    });
  });
});

describe("completions with no provider key", () => {
  it("answer 503 naming the variable to set", async () => {
    const response = await router.post("/v1/chat/completions", chat("hi"));
    expect(response.status).toBe(503);
    const { error } = await response.json();
    expect(error.code).toBe("provider_not_configured");
    expect(error.message).toMatch(/tier 1 .*Set (GROQ_API_KEY or OPENROUTER_API_KEY|OPENROUTER_API_KEY or GROQ_API_KEY)/);
  });
});
