/**
 * The native Anthropic adapter without a network: the canonical request as a Messages
 * body, a Message and its event stream as OpenAI's chat completion and chunks, usage in
 * every class (1-hour writes priced at the 1-hour price), error kinds, and the
 * pass-through body and readers.
 */
import { describe, expect, it } from "vitest";
import { cacheKey } from "../../src/cache/key.ts";
import type { NativeRequest } from "../../src/canonical/native.ts";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { chargeFor } from "../../src/engine/charge.ts";
import { planOf } from "../../src/engine/plan.ts";
import { anthropic } from "../../src/providers/anthropic/index.ts";
import { holdOpening, nativeBody, nativeReaders } from "../../src/providers/anthropic/native.ts";
import { JSON_ANSWER_TOOL, messagesBody } from "../../src/providers/anthropic/request.ts";
import { readUsage } from "../../src/providers/usage.ts";
import { usageMicros } from "../../src/routing/cost.ts";
import { decide } from "../../src/routing/decide.ts";
import { messageUsage } from "../../src/surfaces/anthropic-messages/message.ts";
import { testModel } from "../support/models.ts";
import { sentJson } from "../support/sent-json.ts";

const request = (fields: Partial<CanonicalRequest>): CanonicalRequest =>
  ({ model: "auto", messages: [{ role: "user", content: "hi" }], ...fields }) as CanonicalRequest;
const PROVIDER = {
  id: "anthropic",
  api: "anthropic" as const,
  baseUrl: "https://api.anthropic.com/",
  apiKey: "sk-ant-test",
  configureWith: "ANTHROPIC_API_KEY",
  configured: true,
};

describe("the Messages body for a canonical request", () => {
  it("maps system, turns, tool calls and results, images, PDFs, stop, limits and the tool choice", () => {
    const body = messagesBody(
      request({
        messages: [
          { role: "system", content: "Be brief." },
          {
            role: "user",
            content: [
              { type: "text", text: "What is in this?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
              { type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0=" } },
            ],
          },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "look", arguments: '{"at":"cat"}' } }] },
          { role: "tool", tool_call_id: "call_1", content: "a cat" },
          { role: "user", content: "And now?" },
        ],
        tools: [{ type: "function", function: { name: "look", description: "Look", parameters: { type: "object", properties: { at: { type: "string" } } } } }],
        tool_choice: "required",
        parallel_tool_calls: false,
        stop: "END",
        temperature: 1.6,
        top_p: 0.5,
        max_completion_tokens: 300,
        user: "u-1",
      }),
      "claude-sonnet-5",
      true,
    );
    expect(body).toMatchObject({
      model: "claude-sonnet-5",
      max_tokens: 300,
      stream: true,
      stop_sequences: ["END"],
      temperature: 1,
      metadata: { user_id: "u-1" },
      tool_choice: { type: "any", disable_parallel_tool_use: true },
    });
    expect(body.top_p).toBeUndefined();
    expect(body.tools).toEqual([
      { name: "look", description: "Look", input_schema: { type: "object", properties: { at: { type: "string" } } }, cache_control: { type: "ephemeral" } },
    ]);
    expect(body.system).toEqual([{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }]);
    const messages = body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(messages[0]!.content).toEqual([
      { type: "text", text: "What is in this?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" }, title: "a.pdf" },
    ]);
    expect(messages[1]!.content).toEqual([{ type: "tool_use", id: "call_1", name: "look", input: { at: "cat" } }]);
    // The tool's result and the user's next words are one user turn, the result first; the router's breakpoint on the last part.
    expect(messages[2]!.content).toEqual([
      { type: "tool_result", tool_use_id: "call_1", content: "a cat" },
      { type: "text", text: "And now?", cache_control: { type: "ephemeral" } },
    ]);
  });

  it("keeps the client's breakpoints, a 1-hour one included, and adds none of its own", () => {
    const body = messagesBody(
      request({
        messages: [
          { role: "system", content: [{ type: "text", text: "Long rules", cache_control: { type: "ephemeral", ttl: "1h" } }] },
          { role: "user", content: "q" },
          { role: "assistant", content: "a" },
          { role: "tool", tool_call_id: "x", content: [{ type: "text", text: "out", cache_control: { type: "ephemeral" } }] },
        ],
      }),
      "claude-sonnet-5",
      false,
    );
    expect(body.system).toEqual([{ type: "text", text: "Long rules", cache_control: { type: "ephemeral", ttl: "1h" } }]);
    expect(JSON.stringify(body).match(/cache_control/g)).toHaveLength(2);
    expect((body.messages as { content: unknown[] }[]).at(-1)!.content).toEqual([
      { type: "tool_result", tool_use_id: "x", content: [{ type: "text", text: "out", cache_control: { type: "ephemeral" } }] },
    ]);
    expect(body.stream).toBeUndefined();
  });

  it("bounds an answer the request leaves unbounded by the model's own limit, as Anthropic requires one", () => {
    expect(messagesBody(request({}), "claude-sonnet-5", false).max_tokens).toBe(64_000);
    expect(messagesBody(request({}), "claude-opus-4-1", false).max_tokens).toBe(32_000);
    expect(messagesBody(request({ max_tokens: 10, max_completion_tokens: 20 }), "claude-sonnet-5", false).max_tokens).toBe(20);
  });

  it("asks a json_schema answer through a forced tool, and reads its input back as the text", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const body = messagesBody(request({ response_format: { type: "json_schema", json_schema: { name: "place", schema } } }), "claude-sonnet-5", false);
    expect(body.tool_choice).toEqual({ type: "tool", name: JSON_ANSWER_TOOL });
    expect((body.tools as { name: string; input_schema: unknown }[])[0]).toMatchObject({ name: JSON_ANSWER_TOOL, input_schema: schema });
    const answer = JSON.parse(
      anthropic.chatAnswer(
        JSON.stringify({
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "claude-sonnet-5",
          content: [{ type: "tool_use", id: "toolu_1", name: JSON_ANSWER_TOOL, input: { city: "Oslo" } }],
          stop_reason: "tool_use",
          usage: { input_tokens: 5, output_tokens: 4 },
        }),
        "claude-sonnet-5",
      ),
    );
    expect(answer.choices[0]).toEqual({ index: 0, message: { role: "assistant", content: '{"city":"Oslo"}' }, finish_reason: "stop" });
  });

  it("refuses what Anthropic cannot take, naming the field", () => {
    expect(() => messagesBody(request({ n: 2 }), "claude-sonnet-5", false)).toThrow(/'n'/);
    expect(() =>
      messagesBody(
        request({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AA", format: "wav" } }] }] }),
        "claude-sonnet-5",
        false,
      ),
    ).toThrow(/'messages\[0\]\.content\[0\]\.type'/);
  });
});

describe("the provider", () => {
  it("is Anthropic's API by default, configured by its key, which is a secret", () => {
    const unset = parseConfig({ OPENROUTER_API_KEY: "sk-or-x" }).providers.get("anthropic");
    expect(unset).toMatchObject({ api: "anthropic", baseUrl: "https://api.anthropic.com", configured: false, configureWith: "ANTHROPIC_API_KEY" });
    const config = parseConfig({ ANTHROPIC_API_KEY: "sk-ant-secret-0123", ANTHROPIC_BASE_URL: "http://127.0.0.1:9/" });
    expect(config.providers.get("anthropic")).toMatchObject({ baseUrl: "http://127.0.0.1:9/", apiKey: "sk-ant-secret-0123", configured: true });
    expect(config.secrets).toContain("sk-ant-secret-0123");
  });
});

describe("routing", () => {
  const ask = (model: string): CanonicalRequest => request({ model, messages: [{ role: "user", content: "hi" }] });
  it("with only OpenRouter configured, never plans a call to Anthropic: Claude is OpenRouter's, as before", () => {
    const config = parseConfig({ OPENROUTER_API_KEY: "sk-or-x" });
    for (const tier of [3, 4, 5]) {
      const decision = decide(ask(`tier:${tier}`), config);
      expect(decision.model.provider).toBe("openrouter");
      expect(planOf(decision, config).map((model) => model.provider)).not.toContain("anthropic");
    }
    expect(decide(ask("claude-sonnet-5"), config).model.id).toBe("openrouter/anthropic/claude-sonnet-5");
  });
  it("with only Anthropic configured, serves tiers 3-5 natively, and names the native model by its registry id", () => {
    const config = parseConfig({ ANTHROPIC_API_KEY: "sk-ant-x" });
    expect(decide(ask("tier:4"), config).model).toMatchObject({ id: "anthropic/claude-sonnet-5", upstream_model: "claude-sonnet-5" });
    expect(decide(ask("anthropic/claude-opus-5-5"), config)).toMatchObject({ mode: "model", model: { provider: "anthropic", tier: 5 } });
  });
});

describe("the call", () => {
  it("goes to /v1/messages with x-api-key, anthropic-version, and a pass-through's beta header", async () => {
    const native = {
      format: "anthropic-messages" as const,
      body: { model: "claude-x", max_tokens: 100, messages: [] },
      beta: "interleaved-thinking-2025-05-14",
    };
    const body = anthropic.body(request({ max_tokens: 50 }), "claude-sonnet-5", { stream: true, native });
    const call = await anthropic.completionRequest(PROVIDER, body, true);
    expect(call.url).toBe("https://api.anthropic.com/v1/messages");
    expect(call.headers).toMatchObject({
      "x-api-key": "sk-ant-test",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "interleaved-thinking-2025-05-14",
      accept: "text/event-stream",
    });
    expect(call.headers.authorization).toBeUndefined();
    expect(sentJson(call)).toEqual({ model: "claude-sonnet-5", max_tokens: 50, messages: [], stream: true });
  });

  it("probes the model list, or a one-token message", async () => {
    const models = await anthropic.probeRequest(PROVIDER, "models", "claude-sonnet-5");
    expect(models.url).toBe("https://api.anthropic.com/v1/models");
    expect(models.init.headers).toMatchObject({ "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" });
    const completion = await anthropic.probeRequest(PROVIDER, "completion", "claude-sonnet-5");
    expect(completion.url).toBe("https://api.anthropic.com/v1/messages");
    expect(JSON.parse(String(completion.init.body))).toEqual({ model: "claude-sonnet-5", max_tokens: 1, messages: [{ role: "user", content: "ping" }] });
  });
});

describe("the pass-through body", () => {
  const body = {
    model: "claude-sonnet-5",
    max_tokens: 32_000,
    stream: false,
    thinking: { type: "enabled", budget_tokens: 16_000 },
    messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] }],
    metadata: { user_id: "u" },
  };
  it("is the client's, with the provider's model, the router's bound and the stream asked", () => {
    const sent = nativeBody({ format: "anthropic-messages", body, beta: undefined }, request({ max_tokens: 32_000 }), "claude-sonnet-5-x", true);
    expect(sent).toEqual({ ...body, model: "claude-sonnet-5-x", stream: true });
  });
  it("lowers the thinking budget below a bound the router lowered", () => {
    const sent = nativeBody({ format: "anthropic-messages", body, beta: undefined }, request({ max_tokens: 4_000 }), "claude-sonnet-5", false);
    expect(sent.max_tokens).toBe(4_000);
    expect(sent.thinking).toEqual({ type: "enabled", budget_tokens: 3_999 });
    expect("stream" in sent).toBe(false);
  });
});

const usageReport = {
  input_tokens: 100,
  cache_read_input_tokens: 2_000,
  cache_creation_input_tokens: 1_500,
  cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1_000 },
  output_tokens: 40,
};
const CLASSES = { promptTokens: 3_600, completionTokens: 40, cacheReadTokens: 2_000, cacheWriteTokens: 500, cacheWrite1hTokens: 1_000 };

describe("answers as OpenAI's chat completion", () => {
  it("maps text, thinking and tool calls, the stop reason, and usage in every class", () => {
    const text = anthropic.chatAnswer(
      JSON.stringify({
        id: "msg_01",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-5",
        content: [
          { type: "thinking", thinking: "Hmm.", signature: "sig" },
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_01", name: "look", input: { at: "x" } },
        ],
        stop_reason: "tool_use",
        stop_sequence: null,
        usage: usageReport,
      }),
      "claude-sonnet-5",
    );
    const completion = JSON.parse(text);
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: "Let me look.",
        reasoning: "Hmm.",
        tool_calls: [{ id: "toolu_01", type: "function", function: { name: "look", arguments: '{"at":"x"}' } }],
      },
      finish_reason: "tool_calls",
    });
    expect(completion.usage.prompt_tokens_details).toEqual({ cached_tokens: 2_000, cache_write_tokens: 1_500, cache_write_1h_tokens: 1_000 });
    const read = anthropic.readCompletion(text);
    expect(read).toEqual({ usage: CLASSES, complete: true, outputChars: expect.any(Number) });
  });

  it.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
  ])("reads stop reason %s as %s", (stop, finish) => {
    const text = anthropic.chatAnswer(JSON.stringify({ type: "message", content: [{ type: "text", text: "x" }], stop_reason: stop }), "m");
    expect(JSON.parse(text).choices[0].finish_reason).toBe(finish);
  });

  it("prices 1-hour writes at the 1-hour price: the split survives the chat format, never read as unsplit", () => {
    const usage = readUsage(
      JSON.parse(anthropic.chatAnswer(JSON.stringify({ type: "message", content: [], stop_reason: "end_turn", usage: usageReport }), "m")).usage,
    );
    expect(usage).toEqual(CLASSES);
    expect(usage?.writesUnsplit).toBeUndefined();
    // Prices per million: input 3, read 0.3, 5-minute write 3.75, 1-hour write 6, output 15.
    const model = testModel("claude", 4, 3, {
      output_usd_per_mtok: 15,
      cache_read_usd_per_mtok: 0.3,
      cache_write_usd_per_mtok: 3.75,
      cache_write_1h_usd_per_mtok: 6,
    });
    // 100 × 3 + 2,000 × 0.3 + 500 × 3.75 + 1,000 × 6 + 40 × 15 = 300 + 600 + 1,875 + 6,000 + 600 = 9,375 µ$.
    expect(usageMicros(model, usage!)).toBe(9_375);
    const charged = chargeFor({
      model,
      reported: usage,
      promptEstimate: 3_600,
      promptFloor: 3_600,
      sent: { chars: 20_000, images: 0 },
      writtenChars: 100,
      completionLimit: 1_000,
      reservedMicros: undefined,
      cacheLifetime: "5m",
    });
    expect(charged.costMicros).toBe(9_375);
    // The Messages surface gives the split back as Anthropic's.
    expect(
      messageUsage(JSON.parse(anthropic.chatAnswer(JSON.stringify({ type: "message", content: [], usage: usageReport }), "m")).usage).cache_creation,
    ).toEqual({
      ephemeral_5m_input_tokens: 500,
      ephemeral_1h_input_tokens: 1_000,
    });
  });

  it("turns Anthropic's error in a 200 into an error the readers refuse", () => {
    const text = anthropic.chatAnswer(JSON.stringify({ type: "error", error: { type: "api_error", message: "boom" } }), "m");
    expect(anthropic.readCompletion(text)).toEqual({ failure: "error" });
  });
});

const sse = (events: Record<string, unknown>[]): string => events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join("");
const streamOf = (text: string, cut = 7): ReadableStream<Uint8Array> => {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      // Cut mid-event, as the network does.
      for (let i = 0; i < bytes.length; i += cut) controller.enqueue(bytes.slice(i, i + cut));
      controller.close();
    },
  });
};
const STREAM = [
  { type: "message_start", message: { id: "msg_9", model: "claude-sonnet-5", usage: { ...usageReport, output_tokens: 1 } } },
  { type: "ping" },
  { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Hm" } },
  { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig" } },
  { type: "content_block_stop", index: 0 },
  { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Hello" } },
  { type: "content_block_stop", index: 1 },
  { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "toolu_2", name: "look", input: {} } },
  { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"at":' } },
  { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '"x"}' } },
  { type: "content_block_stop", index: 2 },
  { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 40 } },
  { type: "message_stop" },
];

describe("the stream as OpenAI's chunks", () => {
  it("maps every event, ends with the finish chunk, the usage chunk and [DONE]", async () => {
    const text = await new Response(anthropic.chatStream(streamOf(sse(STREAM)), "claude-sonnet-5")).text();
    const data = text
      .split("\n\n")
      .filter((event) => event.startsWith("data: "))
      .map((event) => event.slice(6));
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
    expect(anthropic.firstEvent(data[0]!)).toBe("chunk");
    expect(chunks.map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { role: "assistant", content: "" },
      { reasoning: "Hm" },
      { content: "Hello" },
      { tool_calls: [{ index: 0, id: "toolu_2", type: "function", function: { name: "look", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"at":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] },
      {},
      undefined,
    ]);
    expect(chunks.at(-2).choices[0].finish_reason).toBe("tool_calls");
    expect(chunks.every((chunk) => chunk.id === "msg_9" && chunk.model === "claude-sonnet-5")).toBe(true);
    const last = anthropic.readEvent(data.at(-2)!);
    expect(last).toMatchObject({ usage: CLASSES, usageOnly: true });
    // A ping is a comment: nothing a client reads, but the relay hears the provider is there.
    expect(text).toContain(": ping\n\n");
  });

  it("makes an error event OpenAI's, which the relay reads as an error, and a cut stream ends without [DONE]", async () => {
    const text = await new Response(
      anthropic.chatStream(streamOf(sse([{ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }])), "claude-sonnet-5"),
    ).text();
    expect(anthropic.firstEvent(text.slice(6).trim())).toBe("error");
    const cut = await new Response(anthropic.chatStream(streamOf(sse(STREAM.slice(0, 8))), "claude-sonnet-5")).text();
    expect(cut).not.toContain("[DONE]");
    expect(cut).not.toContain('finish_reason":"');
  });
});

describe("an error event before any content", () => {
  const OVERLOADED = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
  const early = sse([STREAM[0]!, { type: "ping" }, OVERLOADED]);
  const late = sse([...STREAM.slice(0, 4), OVERLOADED]);
  const firstData = (text: string): string =>
    text
      .split("\n\n")
      .find((event) => event.includes("data: "))!
      .replace(/^[\s\S]*?data: /, "");

  it("is the translated stream's first event (a failed start, retried), but not once content has come", async () => {
    expect(anthropic.firstEvent(firstData(await new Response(anthropic.chatStream(streamOf(early), "m")).text()))).toBe("error");
    expect(anthropic.firstEvent(firstData(await new Response(anthropic.chatStream(streamOf(late), "m")).text()))).toBe("chunk");
  });

  it("is the native stream's first event too; otherwise every event passes as it came, in order", async () => {
    const readers = nativeReaders();
    expect(readers.firstEvent(firstData(await new Response(holdOpening(streamOf(early))).text()))).toBe("error");
    expect(await new Response(holdOpening(streamOf(sse(STREAM)))).text()).toBe(sse(STREAM));
  });
});

describe("the pass-through readers", () => {
  it("read a native stream's usage across message_start and message_delta, and its end", () => {
    const readers = nativeReaders();
    const events = STREAM.map((event) => readers.readEvent(JSON.stringify(event)));
    expect(readers.firstEvent(JSON.stringify(STREAM[0]))).toBe("chunk");
    expect(readers.firstEvent(JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "x" } }))).toBe("error");
    expect(events.at(-2)).toMatchObject({ finished: true, usage: CLASSES });
    expect(events.reduce((sum, event) => sum + event.outputChars, 0)).toBe("Hm".length + "Hello".length + '{"at":"x"}'.length);
  });
  it("read a native Message, and refuse an error in a 200", () => {
    const readers = nativeReaders();
    expect(
      readers.readCompletion(JSON.stringify({ type: "message", content: [{ type: "text", text: "abc" }], stop_reason: "end_turn", usage: usageReport })),
    ).toEqual({
      usage: CLASSES,
      complete: true,
      outputChars: 3,
    });
    expect(readers.readCompletion(JSON.stringify({ type: "error", error: { type: "api_error", message: "x" } }))).toEqual({ failure: "error" });
  });
});

describe("errors", () => {
  const body = (type: string, message: string): string => JSON.stringify({ type: "error", error: { type, message } });
  it.each([
    [400, body("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"), "context_too_long"],
    [400, body("invalid_request_error", "max_tokens: Field required"), undefined],
    [401, body("authentication_error", "invalid x-api-key"), "auth_failed"],
    [403, body("permission_error", "Your API key does not have permission"), "auth_failed"],
    // The account, not the request: credit spent, or a model the account may not use.
    [400, body("invalid_request_error", "Your credit balance is too low to access the Anthropic API."), "auth_failed"],
    [404, body("not_found_error", "model: claude-sonnet-5"), "auth_failed"],
    [429, body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), "rate_limited"],
    [529, body("overloaded_error", "Overloaded"), "overloaded"],
    [500, body("api_error", "Internal server error"), undefined],
  ])("%i %s is %s", (status, text, kind) => {
    expect(anthropic.errorKind?.(status, text)).toBe(kind);
    expect(anthropic.errorMessage(text)).toBe(JSON.parse(text).error.message);
  });
});

describe("the cache key of a pass-through", () => {
  const config = parseConfig({ ANTHROPIC_API_KEY: "sk-ant-x" });
  const asked = request({ model: "anthropic/claude-sonnet-5", max_tokens: 100 });
  const decision = decide(asked, config);
  const scope = { tenant: null, key: null, user: null };
  const native = (body: Record<string, unknown>, beta?: string): NativeRequest => ({ format: "anthropic-messages", body, beta });
  const body = { model: "claude-sonnet-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] };

  it("is its own: never a Chat request's, and apart for what only the native body holds", async () => {
    const chat = await cacheKey(asked, decision, scope);
    const plain = await cacheKey(asked, decision, scope, native(body));
    expect(plain).not.toBe(chat);
    const thinking = await cacheKey(asked, decision, scope, native({ ...body, thinking: { type: "enabled", budget_tokens: 1024 } }));
    expect(thinking).not.toBe(plain);
    expect(await cacheKey(asked, decision, scope, native(body, "interleaved-thinking-2025-05-14"))).not.toBe(plain);
  });

  it("does not depend on how the answer is delivered, nor on the model name the client wrote", async () => {
    const plain = await cacheKey(asked, decision, scope, native(body));
    expect(await cacheKey(asked, decision, scope, native({ ...body, stream: true, model: "claude-sonnet-5-latest" }))).toBe(plain);
  });
});
