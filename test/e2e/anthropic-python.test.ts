/**
 * The Python `anthropic` SDK (test/e2e/python/requirements.txt) through the router: plain
 * and streamed messages from the provider and then from the cache, a tool round trip
 * both ways, count_tokens, and the SDK's own typed errors for a bad key, a bad body, a
 * key over its rpm and a stream the provider breaks after its first byte. Each case is
 * one run of test/e2e/python/anthropic_cases.py, which prints what the SDK gave back.
 */
import { describe, expect, it } from "vitest";
import { makeKey, useClientStack } from "../support/clients.ts";
import { pythonWithClients, runPython } from "../support/python.ts";
import { uniquePrompt } from "../support/router.ts";

type Message = {
  type: string;
  class: string;
  content: Record<string, unknown>[];
  stop_reason: string;
  output_tokens: number;
  cache: string;
  hash: string;
  events?: string[];
};
type Raised = { class: string | null; status?: number; body?: unknown; retry_after?: string | null; message?: string };

const env = useClientStack({ before: pythonWithClients, timeoutMs: 360_000 });
const newKey = async (fields: Record<string, unknown>): Promise<string> => (await makeKey(env.router, env.storage, fields)).key;
const sdk = <T>(name: string, as?: string): Promise<T> =>
  runPython<T>("test/e2e/python/anthropic_cases.py", [name], { TG_URL: env.router.url, TG_KEY: as ?? env.key, TG_PROMPT: uniquePrompt(name) });

describe("messages, from the provider and then from the cache", () => {
  it("create: a Message with usage and the constitutional hash, the same again from the cache", async () => {
    const [served, cached] = await sdk<Message[]>("create");
    expect(served).toMatchObject({ type: "message", class: "Message", stop_reason: "end_turn", output_tokens: 8, cache: "MISS", hash: "cdd01ef066bc6cf2" });
    expect(served!.content).toEqual([{ type: "text", text: expect.stringContaining("Fake") }]);
    expect(cached).toMatchObject({ cache: "HIT", content: served!.content, output_tokens: 8 });
    expect(env.fake.seen).toHaveLength(1);
  });

  it("stream: Anthropic's events, which the SDK assembles into the same Message, from the cache too", async () => {
    const [served, cached] = await sdk<Message[]>("stream");
    const events = served!.events!.filter((type) => type !== "ping");
    expect(events[0]).toBe("message_start");
    expect(events.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(served).toMatchObject({ stop_reason: "end_turn", output_tokens: 8, cache: "MISS" });
    expect(cached).toMatchObject({ cache: "HIT", content: served!.content, stop_reason: "end_turn" });
    expect(env.fake.seen).toHaveLength(1);
  });

  for (const name of ["tools", "tools-stream"]) {
    it(`${name}: a tool_use block with its id, then the tool_result answered as text`, async () => {
      const [call, answer] = await sdk<Message[]>(name);
      expect(call).toMatchObject({ stop_reason: "tool_use" });
      const use = call!.content.find((block) => block.type === "tool_use")!;
      expect(use).toMatchObject({ name: "get_weather", input: { city: "fake", days: 1 }, id: expect.stringMatching(/.+/) });
      expect(answer).toMatchObject({ stop_reason: "end_turn", content: [{ type: "text" }] });
      const sent = (env.fake.seen.at(-1)!.body as { messages: Record<string, unknown>[] }).messages;
      expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: use.id, content: "Sunny, 20 °C" });
    });
  }

  it("count_tokens: the input tokens", async () => {
    expect(await sdk<{ input_tokens: number }>("count_tokens")).toEqual({ input_tokens: expect.any(Number) });
  });
});

describe("the SDK's typed errors", () => {
  it("AuthenticationError for a bad key, BadRequestError for a server tool", async () => {
    expect(await sdk<Raised>("bad-key")).toMatchObject({
      class: "AuthenticationError",
      status: 401,
      body: { type: "error", error: { type: "authentication_error" } },
    });
    expect(await sdk<Raised>("bad-body")).toMatchObject({
      class: "BadRequestError",
      status: 400,
      body: { type: "error", error: { type: "invalid_request_error", message: expect.stringContaining("web_search") } },
    });
  });

  it("RateLimitError with retry-after for a key over its rpm", async () => {
    const [first, second] = await sdk<Raised[]>("limited", await newKey({ rpm: 1 }));
    expect(first).toEqual({ class: null });
    expect(second).toMatchObject({
      class: "RateLimitError",
      status: 429,
      retry_after: expect.stringMatching(/^\d+$/),
      body: { error: { type: "rate_limit_error" } },
    });
  });

  it("an APIStatusError when the provider breaks off the stream after its first byte", async () => {
    env.fake.behaviour.breakAfterChunks = 3;
    // The stream's status was 200 when it broke: the SDK raises its APIStatusError with Anthropic's error body.
    expect(await sdk<Raised>("broken-stream")).toMatchObject({
      class: "APIStatusError",
      body: { type: "error", error: { type: "api_error", message: expect.stringContaining("broke off") } },
    });
  });
});
