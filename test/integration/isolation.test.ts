/**
 * One tenant's traffic is its own, and client input cannot break the router (issue 23):
 * cache scopes, the allow-list through the cache, invalid Unicode, NUL in admin ids,
 * and secrets in a provider's echo. Against the real stack and the fake provider.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true", UPSTREAM_TIMEOUT_MS: "1000" });
});
afterAll(async () => {
  await app.close();
  await storage.close();
});
beforeEach(() => app.reset());

async function makeKey(fields: Record<string, unknown> = {}): Promise<string> {
  const response = await app.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "isolation", ...fields }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

/** Every circuit closed and counted from nothing again. */
async function clearHealth(): Promise<void> {
  const keys = await storage.redis.keys(`${storage.prefix}:health:*`);
  if (keys.length > 0) await storage.redis.del(keys);
}

const ask = (key: string, body: Record<string, unknown>) => app.router.post("/v1/chat/completions", body, { authorization: `Bearer ${key}` });

describe("cache scopes", () => {
  it("a key without a tenant is a scope of its own, and so is the admin key", async () => {
    const [c, d] = [await makeKey(), await makeKey()];
    const prompt = chat(uniquePrompt("only C asked this"));
    const first = await ask(c, prompt);
    await first.arrayBuffer();
    expect(first.headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(c, prompt)).headers.get("x-tiergate-cache")).toBe("HIT");
    expect((await ask(d, prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
    expect((await ask(storage.bindings.ADMIN_API_KEY!, prompt)).headers.get("x-tiergate-cache")).toBe("MISS");
  });

  it("a hit is one the caller could have been served: never a model its key may not use", async () => {
    const open = await makeKey({ tenant: "allow" });
    const narrow = await makeKey({ tenant: "allow", models: ["groq/llama-3.1-8b-instant"] });
    const prompt = chat(uniquePrompt("Who wrote Middlemarch?"), { model: "tier:1" });
    const first = await ask(open, prompt);
    await first.arrayBuffer();
    expect(first.headers.get("x-tiergate-model")).not.toBe("groq/llama-3.1-8b-instant");
    const second = await ask(narrow, prompt);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-tiergate-model")).toBe("groq/llama-3.1-8b-instant");
    expect(second.headers.get("x-tiergate-cache")).toBe("MISS");
  });
});

describe("client input", () => {
  it("refuses a string that is not valid Unicode with a 400 naming it, before any provider call", async () => {
    const key = await makeKey();
    const before = app.fake.seen.length;
    const response = await app.router.post("/v1/chat/completions", '{"model":"auto","messages":[{"role":"user","content":"half a pair: \\ud800"}]}', {
      authorization: `Bearer ${key}`,
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatchObject({ code: "invalid_encoding", param: "messages[0].content" });
    expect(app.fake.seen.length).toBe(before);
    // A whole pair, escaped, is ordinary text.
    const whole = await app.router.post("/v1/chat/completions", '{"model":"auto","messages":[{"role":"user","content":"\\ud83d\\ude00"}]}', {
      authorization: `Bearer ${key}`,
    });
    expect(whole.status).toBe(200);
  });

  it("answers a NUL in an admin id or filter with 404 or 400, never a 500", async () => {
    const headers = { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` };
    expect((await app.router.fetch("/v1/admin/keys/%00", { headers })).status).toBe(404);
    expect((await app.router.fetch("/v1/admin/keys/%00", { method: "DELETE", headers })).status).toBe(404);
    expect((await app.router.fetch("/v1/admin/tenants/%00", { headers })).status).toBe(404);
    expect((await app.router.fetch("/v1/admin/tenants/%00", { method: "DELETE", headers })).status).toBe(404);
    const filtered = await app.router.fetch("/v1/admin/keys?tenant=%00", { headers });
    expect(filtered.status).toBe(400);
    expect((await filtered.json()).error.param).toBe("tenant");
    for (const path of ["/v1/models/%00", "/dashboard/%00"]) expect((await app.router.fetch(path, { headers })).status).toBe(404);
    for (const filter of ["key", "tenant", "model", "request_id", "cursor", "from"]) {
      const audit = await app.router.fetch(`/v1/audit?${filter}=%00`, { headers });
      expect(audit.status).toBe(400);
      expect((await audit.json()).error.type).toBe("invalid_request_error");
    }
  });

  it("refuses a NUL in the text an admin stores, with a 400 naming the field", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["/v1/admin/keys", { name: "bad\u0000name" }, "name"],
      ["/v1/admin/keys", { name: "ok", models: ["groq/\u0000"] }, "models[0]"],
      ["/v1/admin/tenants", { id: "nul-tenant", name: "bad\u0000name" }, "name"],
    ];
    for (const [path, body, param] of cases) {
      const response = await app.router.fetch(path, { method: "POST", headers: admin(), body: JSON.stringify(body) });
      expect(response.status, `${path} ${param}`).toBe(400);
      expect((await response.json()).error.param).toBe(param);
    }
    const feedback = await app.router.post("/v1/feedback", { request_id: "\u0000", rating: "good" }, { authorization: `Bearer ${await makeKey()}` });
    expect(feedback.status).toBe(400);
  });

  it("lets no piece of the provider's key through a provider error that echoes it", async () => {
    const key = await makeKey();
    const providerKey = "test-key-0123456789"; // the key test/support/router.ts gives the fake
    Object.assign(app.fake.behaviour, {
      errorStatus: 400,
      errorMessage: `Incorrect API key provided: ${providerKey.slice(0, 13)}. You can find your key in your dashboard.`,
    });
    const response = await ask(key, chat(uniquePrompt("echo")));
    expect(response.status).toBe(400);
    const message: string = (await response.json()).error.message;
    expect(message).toContain("Incorrect API key provided");
    expect(message).not.toContain(providerKey.slice(0, 8));
  });
});

describe("health per cause", () => {
  it("one tenant's 5xx- and timeout-inducing prompts, routed or naming a model, move no one else; its own requests then fail fast", async () => {
    await clearHealth();
    const attacker = await makeKey({ tenant: "b2-evil" });
    const victim = await makeKey({ tenant: "b2-good" });
    app.fake.behaviour.failPrompts = ["POISON"];
    app.fake.behaviour.hangPrompts = ["STALL"];
    app.fake.behaviour.hangMs = 2_000; // past UPSTREAM_TIMEOUT_MS (this file's 1 s)
    const question = (model: string) =>
      app.router.post("/v1/chat/completions", chat("What is the capital of France?", { model }), {
        authorization: `Bearer ${victim}`,
        "cache-control": "no-cache, no-store",
      });
    const seen = async (model: string) => {
      const answer = await question(model);
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
      return ["x-tiergate-tier", "x-tiergate-model", "x-tiergate-cost-usd"].map((name) => answer.headers.get(name));
    };
    const routed = await seen("tier:2");
    const named = await seen(routed[1]!);
    const harder = await seen("tier:3");
    const attacks = ["tier:2", routed[1]!, "tier:3", "auto"].flatMap((model) => [`POISON ${model}`, `STALL ${model}`].map((text) => ({ model, text })));
    let refusedFast: Response | undefined;
    for (const { model, text } of attacks) {
      const attack = await app.router.post("/v1/chat/completions", chat(`${text} ${uniquePrompt()}`, { model }), { authorization: `Bearer ${attacker}` });
      await attack.arrayBuffer();
      if (attack.status === 429) refusedFast = attack;
      else expect(attack.status).toBeGreaterThanOrEqual(500);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the failure's batch reaches Redis at once; let it land
      expect(await seen("tier:2")).toEqual(routed);
      expect(await seen(routed[1]!)).toEqual(named);
      expect(await seen("tier:3")).toEqual(harder);
    }
    const health = await (await app.router.fetch("/health")).json();
    expect(health.models.filter((m: { state: string }) => m.state !== "closed")).toEqual([]);
    // The attacker's own circuit opened on the way: its requests are refused before any provider is called.
    expect(refusedFast).toBeDefined();
    const calls = app.fake.seen.length;
    const again = await app.router.post("/v1/chat/completions", chat(uniquePrompt("a fair question")), { authorization: `Bearer ${attacker}` });
    expect(again.status).toBe(429);
    expect(again.headers.get("x-should-retry")).toBe("true");
    expect((await again.json()).error).toMatchObject({ code: "caller_circuit_open" });
    expect(app.fake.seen.length).toBe(calls);
    expect(await seen("tier:2")).toEqual(routed);
  }, 60_000);

  it("a provider that fails everything still opens its circuits, on two callers' failures", async () => {
    await clearHealth();
    const keys = [await makeKey({ tenant: "b1-all" }), await makeKey({ tenant: "b1-other" })];
    app.fake.behaviour.errorStatus = 500;
    for (let i = 0; i < 6; i++)
      await (await app.router.post("/v1/chat/completions", chat(uniquePrompt("down")), { authorization: `Bearer ${keys[i % 2]}` })).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // past the isolate's view of the circuits
    const health = await (await app.router.fetch("/health")).json();
    expect(health.models.some((m: { state: string }) => m.state === "open")).toBe(true);
    await clearHealth();
  });
});
