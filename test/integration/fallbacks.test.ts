/** Retries and fallbacks before the first byte, against the fake provider, with every attempt in the audit row. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

beforeAll(async () => {
  storage = await startTestStorage();
  // Breakers off: each test here sees retries and fallbacks alone (breakers.test.ts has them on).
  stack = await startWithFakeProvider({ ...storage.bindings, BREAKER_FAILURES: "0" });
  ({ fake, router } = stack);
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => {
  stack.reset();
  fake.seen.length = 0;
});

const ask = (extra: Record<string, unknown> = {}) => router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "tier:3", ...extra }));

async function rowFor(response: Response): Promise<Record<string, unknown>> {
  await response.arrayBuffer();
  const id = response.headers.get("x-request-id");
  const deadline = Date.now() + 5_000;
  for (;;) {
    await router.scheduled();
    const row = (await auditRows(storage.db)).find((r) => r.request_id === id);
    if (row !== undefined || Date.now() > deadline) return row!;
  }
}

describe("retries on the same model", () => {
  it("retries a passing 5xx and answers, naming every attempt in the header and the audit row", async () => {
    fake.behaviour.errorStatus = 503;
    fake.behaviour.failFirst = 2;
    const response = await ask();
    expect(response.status).toBe(200);
    const model = response.headers.get("x-tiergate-model")!;
    expect(response.headers.get("x-tiergate-attempts")).toMatch(
      new RegExp(`^${model} upstream_error \\d+ms, ${model} upstream_error \\d+ms, ${model} ok \\d+ms$`),
    );
    const row = await rowFor(response);
    expect(row.fallbacks_tried).toEqual([model]);
    expect((row.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(["upstream_error", "upstream_error", "ok"]);
  });

  it("waits as long as a 429's Retry-After asks, then answers", async () => {
    fake.behaviour.errorStatus = 429;
    fake.behaviour.failFirst = 1;
    fake.behaviour.retryAfter = "1";
    const started = Date.now();
    const response = await ask();
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.seen).toHaveLength(2);
  });

  it("never retries what the client caused", async () => {
    fake.behaviour.errorStatus = 400;
    const response = await ask();
    expect(response.status).toBe(400);
    expect(fake.seen).toHaveLength(1);
  });
});

describe("fallbacks along the plan", () => {
  it("falls back to the next model when one is down, and prices the answer with the model that gave it", async () => {
    const route = await (await router.post("/v1/route", chat("pick", { model: "tier:3" }))).json();
    const down = route.model as string;
    const upstreamOf = (id: string) => id.split("/").slice(1).join("/");
    fake.behaviour.errorStatus = 500;
    fake.behaviour.failModels = [upstreamOf(down)];
    const response = await router.post("/v1/chat/completions", chat("pick", { model: "tier:3" }), { "cache-control": "no-cache, no-store" });
    expect(response.status).toBe(200);
    const served = response.headers.get("x-tiergate-model")!;
    expect(served).not.toBe(down);
    expect(served).toBe(route.fallbacks[0].model);
    const row = await rowFor(response);
    expect(row.fallbacks_tried).toEqual([down, served]);
    expect(row.model).toBe(served);
    expect((row.attempts as { model: string; outcome: string }[]).map((a) => `${a.model}:${a.outcome}`)).toEqual([
      `${down}:upstream_error`,
      `${down}:upstream_error`,
      `${down}:upstream_error`,
      `${served}:ok`,
    ]);
  });

  it("answers a named model at another provider of its family when its own is down, and never with another model", async () => {
    fake.behaviour.errorStatus = 500;
    fake.behaviour.failModels = ["llama-3.1-8b-instant"];
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "groq/llama-3.1-8b-instant" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/meta-llama/llama-3.1-8b-instruct");
    expect((await rowFor(response)).fallbacks_tried).toEqual(["groq/llama-3.1-8b-instant", "openrouter/meta-llama/llama-3.1-8b-instruct"]);
    // A model with no family elsewhere has no one to answer for it.
    fake.behaviour.failModels = ["openai/gpt-5.5"];
    const alone = await router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "openrouter/openai/gpt-5.5" }));
    expect(alone.status).toBe(502);
    expect((await rowFor(alone)).fallbacks_tried).toEqual(["openrouter/openai/gpt-5.5"]);
  });

  it("gives up after the bounded attempts with the last error, and records them all", async () => {
    fake.behaviour.errorStatus = 502;
    const response = await ask();
    expect(response.status).toBe(502);
    expect((await response.clone().json()).error.type).toBe("upstream_error");
    expect(fake.seen).toHaveLength(9); // 3 models × (1 try + 2 retries)
    const row = await rowFor(response);
    expect(row.attempts as unknown[]).toHaveLength(9);
    expect(new Set(row.fallbacks_tried as string[]).size).toBe(3);
  });

  it("retries a stream whose provider failed before its first byte", async () => {
    fake.behaviour.errorStatus = 500;
    fake.behaviour.failFirst = 1;
    const response = await ask({ stream: true });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("data: [DONE]");
    expect(fake.seen).toHaveLength(2);
  });
});
