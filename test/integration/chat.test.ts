/** POST /v1/chat/completions through workerd against the fake provider. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, fakeProviders, type Router, startRouter, startWithFakeProvider, uniquePrompt } from "../support/router.ts";

const KEY = "sk-or-test-0123456789abcdef";
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

beforeAll(async () => {
  stack = await startWithFakeProvider({ UPSTREAM_TIMEOUT_MS: "500" }, KEY);
  ({ fake, router } = stack);
});
afterAll(() => stack.close());
beforeEach(() => stack.reset());

describe("a JSON completion", () => {
  it("returns the provider's own body with the routing headers and a cost", async () => {
    fake.behaviour.promptTokens = 1_000;
    fake.behaviour.completionTokens = 500;
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt()));
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.object).toBe("chat.completion");
    expect(body.usage).toMatchObject({ prompt_tokens: 1_000, completion_tokens: 500 });
    expect(response.headers.get("x-tiergate-tier")).toMatch(/^[1-5]$/);
    const tier = Number(response.headers.get("x-tiergate-tier"));
    expect(tier).toBeLessThanOrEqual(2);
    expect(response.headers.get("x-tiergate-model")).toMatch(/^(openrouter|groq)\//);
    expect(response.headers.get("x-tiergate-score")).toMatch(/^(0|1)(\.\d+)?$/);
    expect(response.headers.get("x-tiergate-reason")).toMatch(/tier/);
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
    expect(response.headers.get("x-tiergate-cost-usd")).toMatch(/^\d+\.\d{8}$/);
    expect(Number(response.headers.get("x-tiergate-cost-usd"))).toBeGreaterThan(0);
  });

  it("sends the provider its own model id and the client's parameters, with the key", async () => {
    await router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "groq/llama-3.3-70b-versatile", temperature: 0.3, seed: 7 }));
    const seen = fake.seen.at(-1)!;
    expect(seen.body).toMatchObject({ model: "llama-3.3-70b-versatile", temperature: 0.3, seed: 7 });
    expect(seen.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("serves a forced tier from that tier", async () => {
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "tier:5" }));
    expect(response.headers.get("x-tiergate-tier")).toBe("5");
  });

  it("lets a client's __proto__ keys change nothing: served, and the provider gets only the client's own fields", async () => {
    const raw = '{"model":"auto","__proto__":{"polluted":true},"messages":[{"role":"user","content":"hi","__proto__":{"role":"system","x":1}}]}';
    const response = await router.post("/v1/chat/completions", raw);
    expect(response.status).toBe(200);
    const sent = fake.seen.at(-1)!.body as { messages: Record<string, unknown>[] };
    expect(sent.messages).toEqual([{ role: "user", content: "hi" }]);
    expect(JSON.stringify(sent)).not.toContain("polluted");
    // The next, ordinary request sees a worker whose objects carry nothing the hostile one sent.
    const next = await router.post("/v1/chat/completions", chat(uniquePrompt()));
    expect(next.status).toBe(200);
    expect(JSON.stringify(fake.seen.at(-1)!.body)).not.toMatch(/polluted|"x":1/);
  });
});

describe("a streamed completion", () => {
  it("passes SSE chunks through and ends with [DONE]", async () => {
    fake.behaviour.completionTokens = 5;
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt(), { stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("x-tiergate-tier")).not.toBeNull();
    const text = await response.text();
    expect(text.match(/"content":/g)).toHaveLength(5);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(text).not.toContain('"usage"');
    expect(fake.seen.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });

  it("delivers the first chunk before the provider has finished", async () => {
    fake.behaviour.completionTokens = 3;
    fake.behaviour.tokenIntervalMs = 400;
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt(), { stream: true }));
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"content":"Fake"');
    expect(first).not.toContain("token2");
    await reader.cancel();
  });

  it("turns a broken provider stream into an error event", async () => {
    fake.behaviour.breakAfterChunks = 2;
    const text = await (await router.post("/v1/chat/completions", chat(uniquePrompt(), { stream: true }))).text();
    expect(text).toContain('"code":"upstream_stream_broken"');
    expect(text).not.toContain("[DONE]");
  });
});

describe("provider failures", () => {
  it.each([
    [500, 502, "upstream_error"],
    [503, 502, "upstream_error"],
    [401, 502, "upstream_auth_failed"],
    [429, 429, "upstream_rate_limited"],
  ])("a provider %i becomes %i %s", async (upstream, status, code) => {
    fake.behaviour.errorStatus = upstream;
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt()));
    expect(response.status).toBe(status);
    const { error } = await response.json();
    expect(error.code).toBe(code);
    expect(error.message).not.toContain(KEY);
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
  });

  it("a provider slower than UPSTREAM_TIMEOUT_MS becomes 504", async () => {
    fake.behaviour.latencyMs = 1_500;
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt()));
    expect(response.status).toBe(504);
    expect((await response.json()).error.code).toBe("upstream_timeout");
  });

  it("a provider that is not listening becomes 502", async () => {
    const dead = await startRouter(fakeProviders("http://127.0.0.1:9/v1"));
    try {
      const response = await dead.post("/v1/chat/completions", chat(uniquePrompt()));
      expect(response.status).toBe(502);
      expect((await response.json()).error.code).toBe("upstream_unreachable");
    } finally {
      await dead.close();
    }
  });
});

describe("a custom OpenAI-compatible provider", () => {
  it("serves the models MODELS_JSON gives it, with no key when it needs none", async () => {
    const local = {
      id: "ollama/qwen",
      provider: "ollama",
      upstream_model: "qwen2.5:7b",
      tier: 1,
      input_usd_per_mtok: 0,
      output_usd_per_mtok: 0,
      price_read_on: "2026-11-01",
      context_window: 32_768,
      capabilities: ["streaming"],
    };
    const custom = await startRouter({
      CUSTOM_PROVIDERS: JSON.stringify([{ id: "ollama", base_url: fake.url }]),
      MODELS_JSON: JSON.stringify([local]),
    });
    try {
      const response = await custom.post("/v1/chat/completions", chat(uniquePrompt()));
      expect(response.status).toBe(200);
      expect(response.headers.get("x-tiergate-model")).toBe("ollama/qwen");
      expect(fake.seen.at(-1)!.body.model).toBe("qwen2.5:7b");
      expect(fake.seen.at(-1)!.headers.authorization).toBeUndefined();
    } finally {
      await custom.close();
    }
  });
});
