/**
 * Claude at AWS Bedrock through the router, with the official `@anthropic-ai/sdk` and
 * `openai` clients, against real Redis and Postgres and the fake Bedrock (which checks
 * every SigV4 signature with its own implementation): text, tools and a tool round trip,
 * an image, structured output, streamed and not; each class of usage charged at Bedrock's
 * price; each class of Bedrock error driving the router as it should.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { fakeNativeProviders } from "../../scripts/local/fake-native.ts";
import { makeKey } from "../support/clients.ts";
import { fakeProviders, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";
import { auditRows } from "../support/storage.ts";

const SONNET = "global.anthropic.claude-sonnet-5-v1:0";
const OPUS = "global.anthropic.claude-opus-5-5";
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const env = useFakeStack({
  providers: (fake) => ({ ...fakeProviders(fake.url), ...fakeNativeProviders(fake, ["bedrock"]) }),
  bindings: { BREAKER_FAILURES: "0", REQUIRE_API_KEY: "false" },
});
let anthropic: Anthropic;
let openai: OpenAI;
/** A key that may use Bedrock's Opus and OpenRouter's GPT-5.5 only: tier 5 tries Bedrock (the cheaper) first, then falls back. */
let fallbackClient: OpenAI;

beforeAll(async () => {
  anthropic = new Anthropic({ baseURL: env.router.url, apiKey: "unused-by-the-router-here", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: "unused-by-the-router-here", maxRetries: 0 });
  const { key } = await makeKey(env.router, env.storage, { name: "fallbacks", models: ["bedrock/claude-opus-5.5", "openrouter/openai/gpt-5.5"], rpm: 10_000 });
  fallbackClient = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: key, maxRetries: 0 });
});

type Sent = { path: string; headers: Record<string, unknown>; body: Record<string, unknown> };
const lastBedrockCall = (): Sent => env.fake.seen.filter((seen) => seen.path.startsWith("/model/")).at(-1) as Sent;

const weather: Anthropic.Tool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

describe("the Anthropic SDK to Bedrock's Claude", () => {
  it("answers a message, signed and sent to Converse with the model id in the path", async () => {
    const { data, response } = await anthropic.messages
      .create({ model: "bedrock/claude-sonnet-5", max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: uniquePrompt("Say hi") }] })
      .withResponse();
    expect(data).toMatchObject({ type: "message", role: "assistant", stop_reason: "end_turn" });
    expect(data.content).toEqual([{ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" }]);
    expect(data.usage.output_tokens).toBe(8);
    expect(response.headers.get("x-tiergate-provider")).toBe("bedrock");
    const sent = lastBedrockCall();
    expect(sent.path).toBe(`/model/${encodeURIComponent(SONNET)}/converse`);
    expect(String(sent.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK00001\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    // The router's own breakpoints, as Bedrock's cache points.
    expect(sent.body.system).toEqual([{ text: "Be brief." }, { cachePoint: { type: "default" } }]);
    expect(sent.body.inferenceConfig).toEqual({ maxTokens: 64 });
  });

  it("calls a tool and takes its result back, streamed and not", async () => {
    const ask = {
      model: "bedrock/claude-sonnet-5",
      max_tokens: 128,
      tools: [weather],
      messages: [{ role: "user" as const, content: uniquePrompt("What is the weather in Oslo?") }],
    };
    const call = await anthropic.messages.create(ask);
    expect(call.stop_reason).toBe("tool_use");
    const use = call.content.find((block): block is Anthropic.ToolUseBlock => block.type === "tool_use")!;
    expect(use).toMatchObject({ name: "get_weather", input: { city: expect.any(String) } });
    expect(use.id).toMatch(/^tooluse_/);

    const streamed = await anthropic.messages.stream(ask).finalMessage();
    expect(streamed.stop_reason).toBe("tool_use");
    expect(streamed.content.find((block) => block.type === "tool_use")).toMatchObject({ name: "get_weather", input: use.input });

    const answer = await anthropic.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: call.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny, 18C" }] },
      ],
    });
    expect(answer.stop_reason).toBe("end_turn");
    expect(answer.content[0]).toMatchObject({ type: "text" });
    const turns = lastBedrockCall().body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(turns.map((turn) => turn.role)).toEqual(["user", "assistant", "user"]);
    expect(turns[1]!.content).toContainEqual({ toolUse: { toolUseId: use.id, name: "get_weather", input: use.input } });
    expect(turns[2]!.content[0]).toEqual({ toolResult: { toolUseId: use.id, content: [{ text: "Sunny, 18C" }] } });
    expect((lastBedrockCall().body.toolConfig as { tools: unknown[] }).tools[0]).toEqual({
      toolSpec: { name: "get_weather", description: "The weather in a city", inputSchema: { json: weather.input_schema } },
    });
  });

  it("sends an image as bytes, and streams the answer", async () => {
    const stream = anthropic.messages.stream({
      model: "bedrock/claude-sonnet-5",
      max_tokens: 32,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL } },
            { type: "text", text: uniquePrompt("Describe it") },
          ],
        },
      ],
    });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" }]);
    expect(final.usage.output_tokens).toBe(8);
    const sent = lastBedrockCall();
    expect(sent.path).toBe(`/model/${encodeURIComponent(SONNET)}/converse-stream`);
    expect((sent.body.messages as { content: unknown[] }[])[0]!.content[0]).toEqual({ image: { format: "png", source: { bytes: PIXEL } } });
  });
});

describe("the openai SDK to Bedrock's Claude", () => {
  it("chats and streams, with usage in the last chunk", async () => {
    const answer = await openai.chat.completions.create({ model: "bedrock/claude-sonnet-5", messages: [{ role: "user", content: uniquePrompt("hi") }] });
    expect(answer.choices[0]).toMatchObject({ finish_reason: "stop", message: { role: "assistant", content: expect.stringMatching(/^Fake/) } });
    const stream = await openai.chat.completions.create({
      model: "bedrock/claude-sonnet-5",
      messages: [{ role: "user", content: uniquePrompt("count") }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(8);
  });

  it("answers structured output through the forced tool, streamed and not", async () => {
    const schema = {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer" } },
      required: ["city", "days"],
      additionalProperties: false,
    };
    const response_format = { type: "json_schema" as const, json_schema: { name: "forecast", schema, strict: true } };
    const answer = await openai.chat.completions.create({
      model: "bedrock/claude-sonnet-5",
      messages: [{ role: "user", content: uniquePrompt("Forecast?") }],
      response_format,
    });
    expect(answer.choices[0]!.finish_reason).toBe("stop");
    expect(JSON.parse(answer.choices[0]!.message.content!)).toEqual({ city: expect.any(String), days: expect.any(Number) });
    expect(lastBedrockCall().body.toolConfig).toMatchObject({ toolChoice: { tool: { name: "structured_output" } } });
    const stream = await openai.chat.completions.create({
      model: "bedrock/claude-sonnet-5",
      messages: [{ role: "user", content: uniquePrompt("Forecast?") }],
      response_format,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(JSON.parse(text)).toEqual({ city: expect.any(String), days: expect.any(Number) });
  });

  it("streams a tool call as OpenAI's deltas", async () => {
    const stream = await openai.chat.completions.create({
      model: "bedrock/claude-sonnet-5",
      messages: [{ role: "user", content: uniquePrompt("weather in Paris?") }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: weather.input_schema as Record<string, unknown> } }],
      stream: true,
    });
    let args = "";
    let name: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      name ??= call?.function?.name;
      args += call?.function?.arguments ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ city: expect.any(String) });
    expect(finish).toBe("tool_calls");
  });

  it("refuses an image by URL with a 400 naming the field", async () => {
    const refused = await openai.chat.completions
      .create({
        model: "bedrock/claude-sonnet-5",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }],
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages[0].content[0].image_url.url");
    expect(lastBedrockCall()).toBeUndefined();
  });
});

describe("money", () => {
  it("charges uncached input, cache reads, cache writes and output each at Bedrock's price", async () => {
    env.fake.behaviour.usage = { inputTokens: 1_000, outputTokens: 500, cacheReadInputTokens: 20_000, cacheWriteInputTokens: 3_000, totalTokens: 24_500 };
    // A prompt long enough that 24,000 reported tokens are believable (the router bounds a report by what was sent).
    const prompt = `${uniquePrompt("Summarise")} ${"lorem ipsum dolor sit amet ".repeat(1_500)}`;
    const response = await env.router.post("/v1/chat/completions", {
      model: "bedrock/claude-sonnet-5",
      max_tokens: 1_000,
      messages: [{ role: "user", content: prompt }],
    });
    const body = (await response.json()) as { usage: Record<string, unknown> };
    expect(body.usage).toMatchObject({ prompt_tokens: 24_000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 20_000 } });
    const id = response.headers.get("x-request-id");
    let row: Record<string, unknown> | undefined;
    for (let tries = 0; row === undefined && tries < 50; tries++) {
      await env.router.scheduled();
      row = (await auditRows(env.storage.db)).find((r) => r.request_id === id);
    }
    // Postgres' bigints come back as text.
    expect(row).toMatchObject({
      model: "bedrock/claude-sonnet-5",
      prompt_tokens: "24000",
      completion_tokens: "500",
      cache_read_tokens: "20000",
      cache_write_tokens: "3000",
    });
    // $2/M uncached, $0.20/M read, $2.50/M written (5 minutes), $10/M out: 2,000 + 4,000 + 7,500 + 5,000 µ$.
    expect(Number(row!.cost_usd)).toBe(0.0185);
  });

  it("asks an hour where the client did, and charges each write at its lifetime's price as Bedrock splits them", async () => {
    env.fake.behaviour.usage = {
      inputTokens: 1_000,
      outputTokens: 500,
      cacheReadInputTokens: 20_000,
      cacheWriteInputTokens: 3_000,
      totalTokens: 24_500,
      cacheDetails: [
        { ttl: "1h", inputTokens: 2_000 },
        { ttl: "5m", inputTokens: 1_000 },
      ],
    };
    const rules = `${uniquePrompt("Rules")} ${"lorem ipsum dolor sit amet ".repeat(1_500)}`;
    const { response } = await anthropic.messages
      .create({
        model: "bedrock/claude-opus-5.5",
        max_tokens: 1_000,
        system: [{ type: "text", text: rules, cache_control: { type: "ephemeral", ttl: "1h" } }],
        messages: [{ role: "user", content: "Go on" }],
      })
      .withResponse();
    expect(lastBedrockCall().body.system).toEqual([{ text: rules }, { cachePoint: { type: "default", ttl: "1h" } }]);
    const id = response.headers.get("x-request-id");
    let row: Record<string, unknown> | undefined;
    for (let tries = 0; row === undefined && tries < 50; tries++) {
      await env.router.scheduled();
      row = (await auditRows(env.storage.db)).find((r) => r.request_id === id);
    }
    expect(row).toMatchObject({ model: "bedrock/claude-opus-5.5", cache_read_tokens: "20000", cache_write_tokens: "1000", cache_write_1h_tokens: "2000" });
    // Opus 5.5 at Bedrock: $4/M uncached, $0.20/M read, $5/M a 5-minute write, $8/M an hour's, $20/M out:
    // 4,000 + 4,000 + 5,000 + 16,000 + 10,000 µ$ (all writes at the hour's price would be 42,000).
    expect(Number(row!.cost_usd)).toBe(0.039);
  });
});

describe("Bedrock's errors", () => {
  const tier5 = () =>
    fallbackClient.chat.completions.create({ model: "tier:5", messages: [{ role: "user", content: uniquePrompt("Plan a project") }] }).withResponse();

  it.each([
    [429, "Too many requests, please wait before trying again.", "ThrottlingException"],
    [429, "Model is not ready for inference. Wait and try your request again.", "ModelNotReadyException"],
    [503, "Bedrock is unable to process your request.", "ServiceUnavailableException"],
    [403, "You don't have access to the model with the specified model ID.", "AccessDeniedException"],
    [403, "The security token included in the request is invalid.", "UnrecognizedClientException"],
    [500, "The system encountered an unexpected error during processing. Try your request again.", "InternalServerException"],
    [408, "Model has timed out in processing the request.", "ModelTimeoutException"],
  ])("falls back past a %i (%s) to the next model", async (status, message, _type) => {
    env.fake.behaviour.perModel = { [OPUS]: { errorStatus: status, errorMessage: message } };
    const { data, response } = await tier5();
    expect(data.choices[0]!.message.content).toMatch(/^Fake/);
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/openai/gpt-5.5");
    expect(response.headers.get("x-tiergate-attempts")).toMatch(/^bedrock\/claude-opus-5\.5 \S+ \d+ms.*openrouter\/openai\/gpt-5\.5 ok \d+ms$/);
  });

  it("passes a too-long prompt back to the client as its own 400, trying nothing else", async () => {
    env.fake.behaviour.perModel = { [OPUS]: { errorStatus: 400, errorMessage: "Input is too long for requested model." } };
    const refused = await tier5().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_length_exceeded");
    expect(env.fake.seen.filter((seen) => !seen.path.startsWith("/model/"))).toHaveLength(0);
  });

  it("falls back when Bedrock's stream fails before its first event, and ends a stream broken mid-answer as broken", async () => {
    env.fake.behaviour.perModel = { [OPUS]: { errorIn200: true, breakAfterChunks: 0 } };
    const stream = await fallbackClient.chat.completions
      .create({ model: "tier:5", messages: [{ role: "user", content: uniquePrompt("Plan") }], stream: true })
      .withResponse();
    expect(stream.response.headers.get("x-tiergate-model")).toBe("openrouter/openai/gpt-5.5");
    for await (const _ of stream.data) {
      // drained
    }
    env.fake.behaviour.perModel = { [OPUS]: { errorIn200: true, breakAfterChunks: 3 } };
    const broken = await fallbackClient.chat.completions
      .create({ model: "tier:5", messages: [{ role: "user", content: uniquePrompt("Plan") }], stream: true })
      .withResponse();
    expect(broken.response.headers.get("x-tiergate-model")).toBe("bedrock/claude-opus-5.5");
    await expect(
      (async () => {
        for await (const _ of broken.data) {
          // drained until the error
        }
      })(),
    ).rejects.toThrow();
  });
});

describe("the health probe", () => {
  const deep = async () => {
    const health = (await (
      await env.router.fetch("/health?deep=1", { headers: { authorization: `Bearer ${env.storage.bindings.ADMIN_API_KEY}` } })
    ).json()) as {
      providers: { id: string; probe: unknown }[];
    };
    return health.providers.find((provider) => provider.id === "bedrock")?.probe;
  };

  it("is a signed one-token Converse call on Bedrock's cheapest model, and fails as the call does", async () => {
    expect(await deep()).toMatchObject({ ok: true, status: 200 });
    const sent = lastBedrockCall();
    expect(sent.path).toBe(`/model/${encodeURIComponent("global.anthropic.claude-haiku-4-5-20251001-v1:0")}/converse`);
    expect(sent.body).toEqual({ messages: [{ role: "user", content: [{ text: "ping" }] }], inferenceConfig: { maxTokens: 1 } });
    env.fake.behaviour.errorStatus = 403;
    env.fake.behaviour.errorMessage = "The security token included in the request is invalid.";
    expect(await deep()).toMatchObject({ ok: false, status: 403 });
  });
});
