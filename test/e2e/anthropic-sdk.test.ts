/**
 * The Anthropic Messages API through the router with the official `@anthropic-ai/sdk`,
 * against real Redis and Postgres and the fake OpenAI-compatible provider: plain and
 * streamed messages, a tool round trip, Claude Code's own request shape, token counts,
 * models, the SDK's typed errors, keys by `x-api-key` and by bearer token, the cache
 * across surfaces, and the audit row naming its surface.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MODELS } from "../../src/routing/registry.ts";
import { makeKey } from "../support/clients.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let key: string;
let keyId: string;
let client: Anthropic;

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
  ({ key, id: keyId } = await makeKey(stack.router, storage, { name: "claude", daily_budget_usd: 5, tpm: 2_000_000, rpm: 10_000 }));
  client = new Anthropic({ baseURL: stack.router.url, apiKey: key, maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => stack.reset());
const fake = () => stack.fake;

const weather: Anthropic.Tool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city", "days"] },
};

/** An image with a system array (`cache_control`, for an Anthropic model) and stop sequences. */
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const imageRequest = (prompt: string): Anthropic.MessageCreateParamsNonStreaming => ({
  model: "openrouter/anthropic/claude-sonnet-5",
  max_tokens: 32,
  stop_sequences: ["\n\nHuman:"],
  system: [{ type: "text", text: "You describe images.", cache_control: { type: "ephemeral" } }],
  messages: [
    {
      role: "user",
      content: [
        { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL } },
        { type: "text", text: prompt },
      ],
    },
  ],
});

describe("messages.create", () => {
  it("answers as a Message, with usage, the routing headers and the constitutional hash", async () => {
    const { data, response } = await client.messages
      .create({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Say hi") }] })
      .withResponse();
    expect(data).toMatchObject({ type: "message", role: "assistant", stop_reason: "end_turn", stop_sequence: null });
    expect(data.id).toMatch(/^msg_/);
    expect(data.content).toEqual([{ type: "text", text: expect.stringContaining("Fake") }]);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBe(8);
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
    expect(response.headers.get("x-tiergate-tier")).toMatch(/^[1-5]$/);
    // What the provider was sent: the canonical chat request.
    const sent = stack.fake.seen.at(-1)!.body as Record<string, unknown>;
    expect(sent.max_tokens).toBe(64);
    expect(sent.messages).toEqual([{ role: "user", content: expect.stringContaining("Say hi") }]);
  });

  it("takes a bearer token too (Claude Code's ANTHROPIC_AUTH_TOKEN), and refuses a bad key with the SDK's AuthenticationError", async () => {
    const bearer = new Anthropic({ baseURL: stack.router.url, authToken: key, apiKey: null, maxRetries: 0 });
    const answer = await bearer.messages.create({ model: "auto", max_tokens: 16, messages: [{ role: "user", content: uniquePrompt("hi") }] });
    expect(answer.type).toBe("message");
    const wrong = new Anthropic({ baseURL: stack.router.url, apiKey: "tg-not-a-key-0123456789", maxRetries: 0 });
    const error = await wrong.messages.create({ model: "auto", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.AuthenticationError>).status).toBe(401);
    expect((error as { error: unknown }).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });

  it("raises the SDK's BadRequestError, in Anthropic's shape, for a request without max_tokens or with a server tool", async () => {
    const raw = await stack.router.post("/v1/messages", { model: "auto", messages: [{ role: "user", content: "hi" }] }, { "x-api-key": key });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.stringContaining("max_tokens") } });
    const server = await client.messages
      .create({
        model: "auto",
        max_tokens: 16,
        messages: [{ role: "user", content: "search the web" }],
        tools: [{ type: "web_search_20250305", name: "web_search" } as never],
      })
      .catch((e: unknown) => e);
    expect(server).toBeInstanceOf(Anthropic.BadRequestError);
    expect((server as Error).message).toContain("web_search_20250305");
  });
});

describe("what a request carries", () => {
  it("an image, a system array with cache_control (for an Anthropic model) and stop_sequences reach the provider as Chat Completions has them", async () => {
    const answer = await client.messages.create(imageRequest(uniquePrompt("What is in this image?")));
    expect(answer.type).toBe("message");
    const sent = stack.fake.seen.at(-1)!.body as { messages: { role: string; content: unknown }[]; stop: unknown };
    expect(sent.stop).toEqual(["\n\nHuman:"]);
    expect(sent.messages[0]).toEqual({ role: "system", content: [{ type: "text", text: "You describe images.", cache_control: { type: "ephemeral" } }] });
    expect(sent.messages[1]!.content).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL}` } },
      { type: "text", text: expect.stringContaining("What is in this image?") },
    ]);
  });

  it("breakpoints on tools, images and the last tool result reach a Claude model where the client set them", async () => {
    const claude = DEFAULT_MODELS.find((model) => model.upstream_model.startsWith("anthropic/"))!;
    const hour = { type: "ephemeral" as const, ttl: "1h" as const };
    const answer = await client.messages.create({
      model: claude.id,
      max_tokens: 32,
      tools: [{ ...weather, cache_control: hour }],
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL }, cache_control: { type: "ephemeral" } },
            { type: "text", text: uniquePrompt("What is the weather here?") },
          ],
        },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Oslo", days: 1 } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "Sunny", cache_control: { type: "ephemeral" } }] },
      ],
    });
    expect(answer.type).toBe("message");
    const sent = stack.fake.seen.at(-1)!.body as { model: string; tools: Record<string, unknown>[]; messages: { role: string; content: unknown }[] };
    expect(sent.model).toBe(claude.upstream_model);
    expect(sent.tools[0]).toMatchObject({ function: { name: "get_weather" }, cache_control: hour });
    expect(sent.messages[0]!.content).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL}` }, cache_control: { type: "ephemeral" } },
      { type: "text", text: expect.stringContaining("weather here") },
    ]);
    expect(sent.messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: "toolu_9",
      content: [{ type: "text", text: "Sunny", cache_control: { type: "ephemeral" } }],
    });
  });

  it("a ttl Anthropic does not know is the SDK's BadRequestError, and nothing reaches the provider", async () => {
    const before = stack.fake.seen.length;
    const error = await client.messages
      .create({
        model: "auto",
        max_tokens: 16,
        messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "24h" } as never }] }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Error).message).toContain("messages[0].content[0].cache_control.ttl");
    expect(stack.fake.seen.length).toBe(before);
  });

  it("raises the SDK's RateLimitError for a key over its rpm, with retry-after", async () => {
    const { key: limitedKey } = await makeKey(stack.router, storage, { name: "one a minute", rpm: 1 });
    const limited = new Anthropic({ baseURL: stack.router.url, apiKey: limitedKey, maxRetries: 0 });
    const ask = () => limited.messages.create({ model: "auto", max_tokens: 16, messages: [{ role: "user", content: uniquePrompt("hi") }] });
    expect((await ask()).type).toBe("message");
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).headers.get("retry-after")).toMatch(/^\d+$/);
    expect((error as { error: unknown }).error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
  });
});

describe("streams", () => {
  it("come in Anthropic's event order, and the SDK assembles the same message", async () => {
    const prompt = uniquePrompt("Stream a greeting");
    const events: string[] = [];
    const stream = client.messages.stream({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: prompt }] });
    for await (const event of stream) events.push(event.type);
    const final = await stream.finalMessage();
    const blocks = events.filter((type) => type !== "ping");
    expect(blocks[0]).toBe("message_start");
    expect(blocks[1]).toBe("content_block_start");
    expect(blocks.filter((type) => type === "content_block_delta").length).toBe(8);
    expect(blocks.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(final.content).toEqual([{ type: "text", text: expect.stringContaining("Fake token1") }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBe(8);
    // Asked again: the cached answer, replayed as the same events.
    const again = await client.messages.stream({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: prompt }] }).finalMessage();
    expect(again.content).toEqual(final.content);
  });

  it("ends with an error event the SDK raises when the provider breaks off after the first byte", async () => {
    stack.fake.behaviour.breakAfterChunks = 3;
    const stream = client.messages.stream({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("break") }] });
    await expect(stream.finalMessage()).rejects.toThrow(/broke off/);
  });
});

describe("tools", () => {
  it("round-trip: a tool_use block with its id, then the tool_result answered as text, streamed and not", async () => {
    const question = { role: "user" as const, content: uniquePrompt("What is the weather in Oslo?") };
    const first = await client.messages.create({ model: "tier:3", max_tokens: 200, tools: [weather], messages: [question] });
    expect(first.stop_reason).toBe("tool_use");
    const use = first.content.find((block) => block.type === "tool_use")!;
    expect(use).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "fake", days: 1 } });
    const streamed = await client.messages
      .stream({ model: "tier:3", max_tokens: 200, tools: [weather], messages: [{ ...question, content: `${question.content}!` }] })
      .finalMessage();
    expect(streamed.content.find((block) => block.type === "tool_use")).toMatchObject({ name: "get_weather", input: { city: "fake", days: 1 } });
    const second = await client.messages.create({
      model: "tier:3",
      max_tokens: 200,
      tools: [weather],
      messages: [
        question,
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny, 20 °C" }] },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    const sent = (stack.fake.seen.at(-1)!.body as { messages: Record<string, unknown>[] }).messages;
    expect(sent.at(-2)).toMatchObject({ role: "assistant", tool_calls: [{ id: use.id, function: { name: "get_weather" } }] });
    expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: use.id, content: "Sunny, 20 °C" });
  });
});

describe("every case, streamed and not, from the provider and from the cache", () => {
  /** Each case's parameters for a fresh prompt, and the stop reason its answer must have. */
  const cases: { name: string; stop: string; params: (prompt: string) => Anthropic.MessageCreateParamsNonStreaming }[] = [
    { name: "text", stop: "end_turn", params: (prompt) => ({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: prompt }] }) },
    {
      name: "a tool call",
      stop: "tool_use",
      params: (prompt) => ({
        model: "tier:3",
        max_tokens: 200,
        tools: [weather],
        messages: [{ role: "user", content: `${prompt} What is the weather in Oslo?` }],
      }),
    },
    {
      name: "a tool result",
      stop: "end_turn",
      params: (prompt) => ({
        model: "tier:3",
        max_tokens: 200,
        tools: [weather],
        messages: [
          { role: "user", content: `${prompt} What is the weather in Oslo?` },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Oslo", days: 1 } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: [{ type: "text", text: "Sunny" }] }] },
        ],
      }),
    },
    {
      name: "an image, a system array with cache_control and stop_sequences",
      stop: "end_turn",
      params: imageRequest,
    },
  ];
  const ask = async (params: Anthropic.MessageCreateParamsNonStreaming, stream: boolean) => {
    const before = stack.fake.seen.length;
    const { data, response } = stream ? await client.messages.stream(params).withResponse() : await client.messages.create(params).withResponse();
    const message = stream ? await (data as ReturnType<typeof client.messages.stream>).finalMessage() : (data as Anthropic.Message);
    return { message, cache: response.headers.get("x-tiergate-cache"), calls: stack.fake.seen.length - before };
  };

  for (const { name, stop, params } of cases) {
    for (const stream of [false, true]) {
      it(`${name}, ${stream ? "streamed" : "not streamed"}`, async () => {
        const asked = params(uniquePrompt(name));
        const served = await ask(asked, stream);
        expect(served).toMatchObject({ cache: "MISS", calls: 1, message: { type: "message", stop_reason: stop } });
        expect(served.message.usage.output_tokens).toBeGreaterThan(0);
        const cached = await ask(asked, stream);
        expect(cached).toMatchObject({ cache: "HIT", calls: 0 });
        expect(cached.message.content).toEqual(served.message.content);
        expect(cached.message.stop_reason).toBe(stop);
        expect(cached.message.usage.output_tokens).toBe(served.message.usage.output_tokens);
      });
    }
  }
});

describe("cache usage, as Anthropic's clients read it", () => {
  const READ_AND_WRITTEN = { prompt_tokens: 2_000, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 1_500, cache_write_tokens: 400 } };
  const ask = async (params: Anthropic.MessageCreateParamsNonStreaming, stream: boolean) => {
    const { data, response } = stream ? await client.messages.stream(params).withResponse() : await client.messages.create(params).withResponse();
    const message = stream ? await (data as ReturnType<typeof client.messages.stream>).finalMessage() : (data as Anthropic.Message);
    return { usage: message.usage, cache: response.headers.get("x-tiergate-cache") };
  };

  for (const stream of [false, true]) {
    it(`has input without the cache's, and the cache's reads and writes, from the provider and from the cache, ${stream ? "streamed" : "not streamed"}`, async () => {
      fake().behaviour.usage = READ_AND_WRITTEN;
      const params = { model: "auto", max_tokens: 32, messages: [{ role: "user" as const, content: uniquePrompt("Cache usage") }] };
      const expected = { input_tokens: 100, cache_read_input_tokens: 1_500, cache_creation_input_tokens: 400, output_tokens: 8 };
      const served = await ask(params, stream);
      expect(served).toMatchObject({ cache: "MISS", usage: expected });
      const cached = await ask(params, stream);
      expect(cached).toMatchObject({ cache: "HIT", usage: expected });
      if (!stream) expect(served.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 400, ephemeral_1h_input_tokens: 0 });
    });
  }

  it("splits writes as 1-hour ones when the request asked for an hour, and says 0 for each where the provider reported none", async () => {
    fake().behaviour.usage = READ_AND_WRITTEN;
    const hour = await client.messages.create({
      model: "auto",
      max_tokens: 32,
      system: [{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral", ttl: "1h" } }],
      messages: [{ role: "user", content: uniquePrompt("An hour") }],
    });
    expect(hour.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 400 });
    fake().behaviour.usage = { prompt_tokens: 30, completion_tokens: 8 };
    for (const stream of [false, true]) {
      const { usage } = await ask({ model: "auto", max_tokens: 32, messages: [{ role: "user", content: uniquePrompt("None") }] }, stream);
      expect(usage).toMatchObject({ input_tokens: 30, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
      expect(usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 });
    }
  });
});

describe("what Claude Code sends", () => {
  it("a turn as Claude Code sends it is served: the query string, an in-message system role, adaptive thinking, 128,000 max_tokens", async () => {
    const body = {
      model: "claude-opus-5-5",
      max_tokens: 128_000,
      stream: true,
      thinking: { type: "adaptive", display: "omitted" },
      system: [{ type: "text", text: "You are Claude Code. ".repeat(300), cache_control: { type: "ephemeral" } }],
      tools: [weather, { ...weather, name: "read_file" }],
      messages: [
        { role: "user", content: [{ type: "text", text: uniquePrompt("say hi") }] },
        { role: "system", content: "The working directory is /tmp." },
      ],
      metadata: { user_id: "user_abc_session_1" },
    };
    const response = await stack.router.post("/v1/messages?beta=true", body, {
      authorization: `Bearer ${key}`,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("x-tiergate-dropped")).toContain("thinking");
    expect(response.headers.get("x-tiergate-dropped")).toContain("max_tokens above 32000");
    const text = await response.text();
    expect(text).toContain("event: message_start");
    expect(text).toContain("event: message_stop");
    const sent = stack.fake.seen.at(-1)!.body as Record<string, unknown>;
    expect(sent.max_tokens).toBe(32_000);
    expect(sent.user).toBe("user_abc_session_1");
    expect((sent.messages as { role: string }[]).map((m) => m.role)).toEqual(["system", "user", "system"]);
  });

  it("routes Claude's small, fast model no higher than tier 2, and says why", async () => {
    const route = await stack.router.post(
      "/v1/route",
      chat("Prove that there are infinitely many primes, then derive the prime number theorem's error term rigorously.", { model: "claude-haiku-4-5" }),
      { authorization: `Bearer ${key}` },
    );
    const decided = await route.json();
    expect(decided.tier).toBeLessThanOrEqual(2);
    expect(decided.reasons[0]).toContain("alias of auto, at most tier 2");
  });
});

describe("count_tokens and models", () => {
  it("counts a request's input tokens, and lists auto, the tiers and the registry in Anthropic's shape", async () => {
    const counted = await client.messages.countTokens({ model: "auto", messages: [{ role: "user", content: "Hello there, how are you today?" }] });
    expect(counted.input_tokens).toBeGreaterThan(5);
    const withTools = await client.messages.countTokens({
      model: "auto",
      tools: [weather],
      messages: [{ role: "user", content: "Hello there, how are you today?" }],
    });
    expect(withTools.input_tokens).toBeGreaterThan(counted.input_tokens);
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.type).toBe("model");
      expect(model.created_at).toMatch(/^\d{4}-/);
      ids.push(model.id);
    }
    expect(ids.slice(0, 6)).toEqual(["auto", "tier:1", "tier:2", "tier:3", "tier:4", "tier:5"]);
    expect(ids.length).toBeGreaterThan(6);
    expect(await client.models.retrieve("auto")).toMatchObject({ id: "auto", type: "model" });
    // Without anthropic-version, OpenAI's shape, and auto is listed there too.
    const openai = await (await stack.router.fetch("/v1/models/auto")).json();
    expect(openai).toMatchObject({ id: "auto", object: "model", owned_by: "tiergate" });
  });
});

describe("the rest holds on this surface", () => {
  it("a cached answer goes to each surface in its own shape, and the audit row names the surface and sums to the spend", async () => {
    const prompt = uniquePrompt("Shared between surfaces");
    const viaMessages = await client.messages.create({ model: "tier:1", max_tokens: 32, messages: [{ role: "user", content: prompt }] }).withResponse();
    expect(viaMessages.response.headers.get("x-tiergate-cache")).toBe("MISS");
    const viaChat = await stack.router.post("/v1/chat/completions", chat(prompt, { model: "tier:1", max_tokens: 32 }), { authorization: `Bearer ${key}` });
    // The same canonical request: the same cache entry, rendered in OpenAI's shape for OpenAI's surface.
    expect(viaChat.headers.get("x-tiergate-cache")).toBe("HIT");
    expect((await viaChat.json()).object).toBe("chat.completion");
    const again = await client.messages.create({ model: "tier:1", max_tokens: 32, messages: [{ role: "user", content: prompt }] }).withResponse();
    expect(again.response.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(again.data.type).toBe("message");
    expect(again.data.content).toEqual(viaMessages.data.content);

    const deadline = Date.now() + 8_000;
    let rows: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      await stack.router.scheduled();
      rows = (await auditRows(storage.db)).filter((row) => row.key_id === keyId);
      if (rows.some((row) => row.surface === "chat_completions")) break;
    }
    expect(rows.filter((row) => row.surface === "messages").length).toBeGreaterThan(5);
    expect(rows.every((row) => row.constitutional_hash === "cdd01ef066bc6cf2")).toBe(true);
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const audited = rows.reduce((sum, row) => sum + Math.round(Number(row.cost_usd ?? 0) * 1e6), 0);
    const counter = async () => Number((await storage.redis.get(`${storage.prefix}:spend:key:${keyId}:d:${day}`)) ?? 0);
    const settled = Date.now() + 3_000;
    while ((await counter()) !== audited && Date.now() < settled) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await counter()).toBe(audited);
  });
});
