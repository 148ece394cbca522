/** The provider adapter against the fake upstream over loopback (in Node; the worker tests cover workerd). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_BEHAVIOUR, type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import type { Provider } from "../../src/config/providers.ts";
import { ApiError } from "../../src/http/errors.ts";
import { callUpstream, type UpstreamRequest } from "../../src/providers/upstream.ts";

let fake: FakeUpstream;
const KEY = "sk-test-abcdefghijklmnop";
const provider = (): Provider => ({ id: "fake", api: "openai-compatible", baseUrl: fake.url, apiKey: KEY, configureWith: "X", configured: true });
const request = (extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
  provider: provider(),
  request: { model: "auto", messages: [{ role: "user", content: "hello" }] },
  upstreamModel: "m",
  stream: false,
  clientWantsUsage: false,
  timeoutMs: 2_000,
  secrets: [KEY],
  ...extra,
});
const streamed = (clientWantsUsage = false): UpstreamRequest =>
  request({ stream: true, clientWantsUsage, request: { model: "auto", messages: [{ role: "user", content: "hello" }], stream: true } });

async function failure(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

beforeAll(async () => (fake = await startFakeUpstream()));
afterAll(() => fake.close());
beforeEach(() => {
  fake.behaviour = { ...DEFAULT_BEHAVIOUR };
});

describe("callUpstream, JSON", () => {
  it("returns the provider's body and reads its usage, sending the key as a bearer token", async () => {
    fake.behaviour.promptTokens = 12;
    fake.behaviour.completionTokens = 5;
    const answer = await callUpstream(request());
    expect(answer.stream).toBe(false);
    if (answer.stream) return;
    expect(JSON.parse(answer.text).choices[0].message.content).toBe("Fake token1 token2 token3 token4");
    expect(answer.usage).toEqual({ promptTokens: 12, completionTokens: 5 });
    expect(fake.seen.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("maps a provider 5xx to 502 and 429 to 429 with its Retry-After", async () => {
    fake.behaviour.errorStatus = 500;
    expect((await failure(callUpstream(request()))).status).toBe(502);
    fake.behaviour.errorStatus = 429;
    const limited = await failure(callUpstream(request()));
    expect(limited.status).toBe(429);
    expect(limited.type).toBe("rate_limit_error");
  });

  it("stops the provider call when the client leaves, and calls that a client disconnect (499), not a timeout", async () => {
    fake.behaviour.latencyMs = 1_000;
    const client = new AbortController();
    setTimeout(() => client.abort(), 100);
    const started = Date.now();
    const left = await failure(callUpstream(request({ clientSignal: client.signal })));
    expect(left).toMatchObject({ status: 499, code: "client_disconnected" });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("maps a slow provider to 504 and a closed port to 502", async () => {
    fake.behaviour.latencyMs = 500;
    const slow = await failure(callUpstream(request({ timeoutMs: 100 })));
    expect(slow.status).toBe(504);
    const closed = await failure(callUpstream(request({ provider: { ...provider(), baseUrl: "http://127.0.0.1:9/v1" } })));
    expect(closed.status).toBe(502);
    expect(closed.code).toBe("upstream_unreachable");
  });

  it("never repeats the key in an error, even when the provider does", async () => {
    fake.behaviour.requiredKey = "another-key";
    const rejected = await failure(callUpstream(request()));
    expect(rejected.status).toBe(502);
    expect(rejected.message).toMatch(/401/);
    expect(rejected.message).not.toContain(KEY);
  });
});

describe("callUpstream, streaming", () => {
  async function drain(answer: Awaited<ReturnType<typeof callUpstream>>): Promise<string> {
    if (!answer.stream) throw new Error("expected a stream");
    return new Response(answer.body).text();
  }

  it("relays every chunk and [DONE], reads usage from the final chunk, and hides that chunk unless asked", async () => {
    fake.behaviour.completionTokens = 6;
    fake.behaviour.promptTokens = 20;
    const answer = await callUpstream(streamed());
    const text = await drain(answer);
    expect(text.match(/"content":/g)).toHaveLength(6);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(text).not.toContain('"usage"');
    if (!answer.stream) return;
    expect(await answer.outcome).toMatchObject({ usage: { promptTokens: 20, completionTokens: 6 }, truncated: false, error: undefined });
    // What was relayed is counted, for an answer whose usage never comes.
    expect((await answer.outcome).relayedChars).toBeGreaterThan(0);
  });

  it("forwards the usage chunk when the client asked for it", async () => {
    const text = await drain(await callUpstream(streamed(true)));
    expect(text).toContain('"usage":{"prompt_tokens"');
  });

  it("ends a broken stream with an OpenAI error event and records the truncation", async () => {
    fake.behaviour.breakAfterChunks = 3;
    const answer = await callUpstream(streamed());
    const text = await drain(answer);
    expect(text.match(/"content":/g)).toHaveLength(3);
    expect(text).toContain('"code":"upstream_stream_broken"');
    if (!answer.stream) return;
    expect(await answer.outcome).toMatchObject({ truncated: true, error: "upstream_stream_broken" });
  });

  it("ends a stalled stream after the idle timeout", async () => {
    fake.behaviour.stallAfterChunks = 2;
    const answer = await callUpstream({ ...streamed(), timeoutMs: 200 });
    const text = await drain(answer);
    expect(text).toContain('"code":"upstream_timeout"');
    if (!answer.stream) return;
    expect(await answer.outcome).toMatchObject({ truncated: true, error: "upstream_timeout" });
  });

  it("forwards the first chunk before the provider has finished", async () => {
    fake.behaviour.completionTokens = 3;
    fake.behaviour.tokenIntervalMs = 300;
    const answer = await callUpstream(streamed());
    if (!answer.stream) throw new Error("expected a stream");
    const reader = answer.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"content":"Fake"');
    expect(first).not.toContain("token1");
    await reader.cancel();
  });
});
