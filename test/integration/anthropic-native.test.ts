/**
 * The native Anthropic adapter through the router, against real Redis and Postgres and
 * the fake provider's Anthropic half: a Chat Completions request (the `openai` SDK) is
 * translated to Messages and back, streamed and not, with a tool round trip; a Messages
 * request (`@anthropic-ai/sdk`) goes through as the client sent it (thinking and its
 * signatures, a breakpoint on a tool result, a document, the beta header) and its answer
 * and stream come back as the provider sent them; usage is charged by class, 1-hour
 * writes at their price; Anthropic's errors become the router's; pass-through answers
 * never reach another surface's client through the response cache.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { flushedRows, makeKey } from "../support/clients.ts";
import { fakeProviders, startRouter, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const MODEL = "anthropic/claude-sonnet-5";
const env = useFakeStack({
  // Anthropic alone: a failing call has no other provider's Claude (its family) to fall back to, so its error is seen.
  providers: (fake) => ({ ANTHROPIC_BASE_URL: new URL(fake.url).origin, ANTHROPIC_API_KEY: "sk-ant-test-0123456789" }),
  bindings: {
    UPSTREAM_RETRY_BASE_MS: "5",
    // The error tests fail Anthropic on purpose, in any order: no circuit opens on them (breakers have their own tests).
    BREAKER_FAILURES: "0",
    REQUIRE_API_KEY: "true",
  },
  behaviour: { requiredKey: "sk-ant-test-0123456789" },
});
let key: string;
let keyId: string;
let openai: OpenAI;
let claude: Anthropic;

beforeAll(async () => {
  ({ key, id: keyId } = await makeKey(env.router, env.storage, { daily_budget_usd: 5, rpm: 10_000, tpm: 5_000_000 }));
  openai = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: key, maxRetries: 0 });
  claude = new Anthropic({ baseURL: env.router.url, apiKey: key, maxRetries: 0 });
});

const seen = () => {
  const last = env.fake.seen.at(-1)!;
  expect(last.path).toBe("/v1/messages");
  return last;
};
const weather = {
  type: "function" as const,
  function: { name: "get_weather", description: "The weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

describe("a Chat Completions request served by Anthropic natively", () => {
  it("is sent as a Messages body with Anthropic's headers, and answered as a chat completion", async () => {
    const prompt = uniquePrompt("Say hi");
    const { data, response } = await openai.chat.completions
      .create({
        model: MODEL,
        messages: [
          { role: "system", content: "Be kind." },
          { role: "user", content: prompt },
        ],
        max_tokens: 50,
        stop: ["END"],
      })
      .withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe(MODEL);
    expect(data.choices[0]!.message.content).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage?.completion_tokens).toBe(8);
    const { headers, body } = seen();
    expect(headers["x-api-key"]).toBe("sk-ant-test-0123456789");
    expect(headers["anthropic-version"]).toBe("2023-06-01");
    expect(headers.authorization).toBeUndefined();
    expect(headers["anthropic-beta"]).toBeUndefined();
    expect(body).toEqual({
      model: "claude-sonnet-5",
      max_tokens: 50,
      system: [{ type: "text", text: "Be kind.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: [{ type: "text", text: prompt, cache_control: { type: "ephemeral" } }] }],
      stop_sequences: ["END"],
    });
  });

  it("streams as chat chunks, with the usage chunk the client asked for", async () => {
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: uniquePrompt("Stream") }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(8);
    expect(seen().body.stream).toBe(true);
  });

  it("makes a tool round trip: the call comes back as tool_calls, its result goes as tool_result with the same id", async () => {
    const question = uniquePrompt("What is the weather in Oslo? use the get_weather tool");
    const first = await openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: question }], tools: [weather] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe("tool_calls");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "fake" });
    const second = await openai.chat.completions.create({
      model: MODEL,
      tools: [weather],
      messages: [{ role: "user", content: question }, first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "Sunny, 21 C" }],
    });
    expect(second.choices[0]!.finish_reason).toBe("stop");
    const messages = seen().body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(messages[1]!.content).toEqual([{ type: "tool_use", id: call.id, name: "get_weather", input: { city: "fake" } }]);
    expect(messages[2]!.content).toEqual([
      { type: "tool_result", tool_use_id: call.id, content: [{ type: "text", text: "Sunny, 21 C", cache_control: { type: "ephemeral" } }] },
    ]);
  });

  it("streams a tool call as tool_call deltas", async () => {
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: uniquePrompt("use the get_weather tool") }],
      tools: [weather],
      stream: true,
    });
    let args = "";
    let name: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.tool_calls?.[0];
      name ??= delta?.function?.name;
      args += delta?.function?.arguments ?? "";
      finish ??= chunk.choices[0]?.finish_reason;
    }
    expect({ name, args: JSON.parse(args), finish }).toEqual({ name: "get_weather", args: { city: "fake" }, finish: "tool_calls" });
  });
});

describe("a Responses request served by Anthropic natively", () => {
  it("is translated too, streamed and not", async () => {
    const response = await openai.responses.create({ model: MODEL, input: uniquePrompt("Hello"), instructions: "Be brief.", store: false });
    expect(response.output_text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(seen().body).toMatchObject({ model: "claude-sonnet-5", system: [{ type: "text", text: "Be brief." }] });
    const stream = await openai.responses.create({ model: MODEL, input: uniquePrompt("Hello"), stream: true, store: false });
    let text = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
  });
});

describe("a Messages request served by Anthropic natively (passed through)", () => {
  it("sends a long text on as the bytes the client wrote it in, with the model's id and the router's cap", async () => {
    const long = `${"caf\\u00e9 \\u2713\\n".repeat(100)}${uniquePrompt("")}`;
    const text = `{"model":"${MODEL}","max_tokens":64,"messages":[{"role":"user","content":"${long}"}]}`;
    const response = await env.router.post("/v1/messages", text, { authorization: `Bearer ${key}`, "anthropic-version": "2023-06-01" });
    expect(response.status).toBe(200);
    const arrived = seen();
    expect(arrived.text).toContain(`"${long}"`);
    expect(arrived.body).toMatchObject({ model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user", content: JSON.parse(`"${long}"`) }] });
  });

  it("answers a plain message and streams one, as Anthropic's SDK reads them", async () => {
    const message = await claude.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Hello") }] });
    expect(message.content).toEqual([{ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.model).toBe("claude-sonnet-5");
    const stream = claude.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Hello") }] });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" }]);
    expect(final.usage.output_tokens).toBe(8);
  });

  it("makes a tool round trip", async () => {
    const tool: Anthropic.Tool = { name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
    const question = uniquePrompt("use the get_weather tool");
    const first = await claude.messages.create({ model: MODEL, max_tokens: 64, tools: [tool], messages: [{ role: "user", content: question }] });
    expect(first.stop_reason).toBe("tool_use");
    const use = first.content.find((block) => block.type === "tool_use")!;
    const second = await claude.messages.create({
      model: MODEL,
      max_tokens: 64,
      tools: [tool],
      messages: [
        { role: "user", content: question },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny" }] },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    const sent = seen().body as { messages: unknown[] };
    // As sent: the client's blocks, untranslated.
    expect(sent.messages[1]).toEqual({ role: "assistant", content: first.content });
    expect(sent.messages[2]).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny" }] });
  });
});

const PDF_TEXT = "The contract ends on 2027-03-01.";
const SIGNATURE = "EqQBCkYIBxgCKkB0c2lnbmF0dXJlLW9mLXRoZS10aGlua2luZw==";

/** A turn of an agent with thinking on: earlier thinking with its signature, a redacted block, a tool call, its result cached, a document. */
function thinkingTurn(prompt: string): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 2_048,
    thinking: { type: "enabled", budget_tokens: 1_024 },
    system: [{ type: "text", text: "You read contracts.", cache_control: { type: "ephemeral", ttl: "1h" } }],
    metadata: { user_id: "user-42" },
    tool_choice: { type: "auto" },
    tools: [{ name: "read_file", description: "Reads a file", input_schema: { type: "object", properties: { path: { type: "string" } } } }],
    messages: [
      {
        role: "user",
        content: [
          { type: "document", source: { type: "text", media_type: "text/plain", data: PDF_TEXT }, title: "contract", citations: { enabled: true } },
          { type: "text", text: prompt },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "I should read the annex.", signature: SIGNATURE },
          { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj" },
          { type: "tool_use", id: "toolu_01A", name: "read_file", input: { path: "annex.txt" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_01A",
            content: [{ type: "text", text: "Annex: renewal is automatic." }],
            cache_control: { type: "ephemeral" },
          },
        ],
      },
    ],
  };
}
const BETA = "interleaved-thinking-2025-05-14,token-efficient-tools-2025-02-19";

describe("a Messages request passed through to Anthropic", () => {
  it("reaches the provider with the client's own blocks and beta header, only the model rewritten", async () => {
    const body = thinkingTurn(uniquePrompt("When does it end?"));
    const { data, response } = await claude.messages.create(body, { headers: { "anthropic-beta": BETA } }).withResponse();
    const { headers, body: sent } = seen();
    expect(headers["anthropic-beta"]).toBe(BETA);
    expect(sent).toEqual({ ...body, model: "claude-sonnet-5" });
    // Nothing was dropped: the provider had the request as it was sent.
    expect(response.headers.get("x-tiergate-dropped")).toBeNull();
    // The answer as Anthropic sent it: thinking with its signature first.
    expect(data.content[0]).toEqual({ type: "thinking", thinking: "Let me think about this. ", signature: expect.any(String) });
    expect(data.id).toMatch(/^msg_fake/);
  });

  it("leaves out what would bill a token above the list price the router charges (fast mode, a service tier), and names it", async () => {
    const body = { ...thinkingTurn(uniquePrompt("fast")), speed: "fast", service_tier: "priority", context_management: { edits: [] } };
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json", "anthropic-beta": `fast-mode-2026-02-01,${BETA}` },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    const { headers, body: sent } = seen();
    expect(headers["anthropic-beta"]).toBe(BETA);
    expect(sent).not.toHaveProperty("speed");
    expect(sent).not.toHaveProperty("service_tier");
    // What changes the answer but not its price goes on.
    expect(sent).toHaveProperty("context_management");
    expect(response.headers.get("x-tiergate-dropped")).toBe("speed, service_tier, anthropic-beta fast-mode-2026-02-01");
  });

  it("applies the router's output cap to max_tokens, lowers the thinking budget under it, and names the cap alone", async () => {
    // Raw: Anthropic's SDK itself refuses so large an answer unstreamed.
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ ...thinkingTurn(uniquePrompt("cap")), max_tokens: 500_000, thinking: { type: "enabled", budget_tokens: 300_000 } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-dropped")).toMatch(/^max_tokens above \d+$/);
    const sent = seen().body as { max_tokens: number; thinking: { budget_tokens: number } };
    expect(sent.max_tokens).toBeLessThan(500_000);
    expect(sent.thinking.budget_tokens).toBe(sent.max_tokens - 1);
  });

  it("streams back Anthropic's events as it sent them, event for event", async () => {
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json", "anthropic-beta": BETA },
      body: JSON.stringify({ ...thinkingTurn(uniquePrompt("Stream it")), stream: true }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const events = text
      .split("\n\n")
      .filter((event) => event.trim() !== "")
      .map((event) => {
        const [name, data] = event.split("\n");
        return { name: name!.replace("event: ", ""), data: JSON.parse(data!.replace("data: ", "")) as { type: string; delta?: { type: string } } };
      });
    expect(events.every(({ name, data }) => name === data.type)).toBe(true);
    const words = 8;
    expect(events.map(({ name, data }) => (data.delta?.type === undefined ? name : `${name}:${data.delta.type}`))).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta:thinking_delta",
      "content_block_delta:signature_delta",
      "content_block_stop",
      "content_block_start",
      ...Array.from({ length: words }, () => "content_block_delta:text_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(seen().body.stream).toBe(true);
  });

  it("cleans the provider's words in an error event mid-stream as in an error answer: no key of the router's reaches the client", async () => {
    env.fake.behaviour.streamErrorAfterChunks = 2;
    env.fake.behaviour.errorMessage = "upstream auth sk-ant-test-0123456789 failed at /srv/app/proxy.py:12";
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: uniquePrompt("mid error") }] }),
    });
    const text = await response.text();
    expect(text).toContain("event: error");
    expect(text).not.toContain("sk-ant-test-0123456789");
    expect(text).not.toContain("/srv/app");
  });

  it("ends a stream Anthropic breaks midway with Anthropic's own error event", async () => {
    env.fake.behaviour.breakAfterChunks = 3;
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: uniquePrompt("break") }] }),
    });
    const text = await response.text();
    expect(text.match(/event: content_block_delta/g)).toHaveLength(3);
    expect(text.trim().split("\n\n").at(-1)).toMatch(
      /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"The provider's stream broke off/,
    );
  });

  it("retries a stream whose error event comes before any content, unseen by the client", async () => {
    env.fake.behaviour = { ...env.fake.behaviour, streamErrorAfterChunks: 0, failFirst: undefined };
    const first = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: uniquePrompt("early error") }] }),
    });
    // Every try fails the same way: the client sees a clean error, not a stream that began.
    expect(first.status).toBe(502);
    expect(await first.json()).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("began with an error event") } });
    expect(env.fake.seen.length).toBeGreaterThan(1);
  });
});

describe("money", () => {
  it("charges each usage class at Anthropic's price, 1-hour writes at the 1-hour price, for both surfaces", async () => {
    // Sonnet 5 at Anthropic: input 2, output 10, read 0.2, 5-minute write 2.5, 1-hour write 4 (USD per million).
    env.fake.behaviour.usage = {
      input_tokens: 1_000,
      cache_read_input_tokens: 10_000,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 8,
    };
    // 1,000 × 2 + 10,000 × 0.2 + 1,000 × 2.5 + 2,000 × 4 + 8 × 10 = 2,000 + 2,000 + 2,500 + 8,000 + 80 = 14,580 µ$.
    const expected = 14_580;
    const long = "x".repeat(60_000);
    const before = (await flushedRows(env.router, env.storage, keyId, 0)).length;
    await openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] });
    await claude.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] });
    const streamed = claude.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] });
    await streamed.finalMessage();
    const rows = (await flushedRows(env.router, env.storage, keyId, before + 3)).slice(-3);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ model: MODEL, provider: "anthropic" });
      expect([row.cache_read_tokens, row.cache_write_tokens, row.cache_write_1h_tokens].map(Number)).toEqual([10_000, 1_000, 2_000]);
      expect(Math.round(Number(row.cost_usd) * 1e6)).toBe(expected);
    }
  });
});

describe("Anthropic's errors", () => {
  const ask = () => openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: uniquePrompt() }] });
  it("a prompt too long is the client's 400, context_length_exceeded", async () => {
    Object.assign(env.fake.behaviour, { errorStatus: 400, errorMessage: "prompt is too long: 210000 tokens > 200000 maximum" });
    await expect(ask()).rejects.toMatchObject({ status: 400, code: "context_length_exceeded" });
  });
  it("a refused key is a 502 that never shows the key, even where Anthropic's message repeats it", async () => {
    env.fake.behaviour.requiredKey = "another-key";
    const error = (await ask().catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toMatchObject({ status: 502, code: "upstream_auth_failed" });
    Object.assign(env.fake.behaviour, { requiredKey: undefined, errorStatus: 403, errorMessage: "key sk-ant-test-0123456789 may not use this model" });
    const leaked = (await ask().catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(leaked).toMatchObject({ status: 502, code: "upstream_auth_failed" });
    expect(JSON.stringify(leaked.error)).toContain("may not use this model");
    expect(JSON.stringify(leaked.error)).not.toContain("sk-ant-test-0123456789");
  });
  it("an error in a 200, or a Message cut off, is a bad answer (502), through either surface", async () => {
    env.fake.behaviour.errorIn200 = true;
    await expect(ask()).rejects.toMatchObject({ status: 502, code: "upstream_error" });
    const messages = () => claude.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: uniquePrompt() }] });
    await expect(messages()).rejects.toMatchObject({
      status: 502,
      error: { error: { type: "api_error", message: expect.stringContaining("answered 200 with an error") } },
    });
    Object.assign(env.fake.behaviour, { errorIn200: false, malformed: true });
    await expect(ask()).rejects.toMatchObject({ status: 502, code: "upstream_bad_response" });
    await expect(messages()).rejects.toMatchObject({ status: 502 });
  });

  it("429 keeps its Retry-After; 529 overloaded is a 503, Anthropic's 529 to a Messages client", async () => {
    // A wait past the router's time for retries: passed on at once.
    Object.assign(env.fake.behaviour, { errorStatus: 429, retryAfter: "120" });
    const limited = (await ask().catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(limited.status).toBe(429);
    expect(limited.headers?.get("retry-after")).toBe("120");
    Object.assign(env.fake.behaviour, { errorStatus: 529, retryAfter: undefined });
    await expect(ask()).rejects.toMatchObject({ status: 503, code: "upstream_overloaded" });
    const overloaded = (await claude.messages
      .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: uniquePrompt() }] })
      .catch((caught: unknown) => caught)) as InstanceType<typeof Anthropic.APIError>;
    expect(overloaded.status).toBe(529);
    expect(overloaded.error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });
});

describe("the response cache", () => {
  it("never gives a pass-through answer to a Chat client, nor a Chat answer to a Messages client", async () => {
    const prompt = uniquePrompt("cache me");
    const headers = { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" };
    const messages = { model: MODEL, max_tokens: 50, messages: [{ role: "user", content: prompt }] };
    const first = await fetch(`${env.router.url}/v1/messages`, { method: "POST", headers, body: JSON.stringify(messages) });
    expect(first.headers.get("x-tiergate-cache")).toBe("MISS");
    await first.arrayBuffer();
    // The same request again: the native answer was not kept, so the provider answers it again.
    const again = await fetch(`${env.router.url}/v1/messages`, { method: "POST", headers, body: JSON.stringify(messages) });
    expect(again.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(((await again.json()) as { type: string }).type).toBe("message");
    // The same question through Chat: its own entry, answered as a chat completion.
    const chat = await openai.chat.completions.create({ model: MODEL, max_tokens: 50, messages: [{ role: "user", content: prompt }] }).withResponse();
    expect(chat.response.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(chat.data.object).toBe("chat.completion");
    const chatAgain = await openai.chat.completions.create({ model: MODEL, max_tokens: 50, messages: [{ role: "user", content: prompt }] }).withResponse();
    expect(chatAgain.response.headers.get("x-tiergate-cache")).toBe("HIT");
    // And the Messages request still does not read the Chat client's entry.
    const third = await fetch(`${env.router.url}/v1/messages`, { method: "POST", headers, body: JSON.stringify(messages) });
    expect(third.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(((await third.json()) as { id: string }).id).toMatch(/^msg_fake/);
    expect(env.fake.seen).toHaveLength(4);
  });
});

describe("the health probe", () => {
  const deep = async () => {
    const health = (await (
      await env.router.fetch("/health?deep=1", { headers: { authorization: `Bearer ${env.storage.bindings.ADMIN_API_KEY}` } })
    ).json()) as {
      providers: { id: string; probe: unknown }[];
    };
    return health.providers.find((provider) => provider.id === "anthropic")?.probe;
  };

  it("lists Anthropic's models with the key, and fails as the list does", async () => {
    expect(await deep()).toMatchObject({ ok: true, status: 200 });
    const probe = env.fake.seen.at(-1)!;
    expect(probe.path).toBe("/v1/models");
    expect(probe.headers).toMatchObject({ "x-api-key": "sk-ant-test-0123456789", "anthropic-version": "2023-06-01" });
    env.fake.behaviour.requiredKey = "another-key";
    expect(await deep()).toMatchObject({ ok: false, status: 401 });
    Object.assign(env.fake.behaviour, { requiredKey: undefined, errorStatus: 529 });
    expect(await deep()).toMatchObject({ ok: false, status: 529 });
  });
});

describe("a pass-through whose Anthropic call fails", () => {
  it("falls back to the same Claude at OpenRouter, translated, and says what that dropped", async () => {
    const both = await startRouter({
      ...env.storage.bindings,
      ...fakeProviders(env.fake.url),
      ANTHROPIC_BASE_URL: new URL(env.fake.url).origin,
      ANTHROPIC_API_KEY: "sk-ant-test-0123456789",
      REQUIRE_API_KEY: "true",
      // The tests above failed Anthropic on purpose: its circuit is not this test's subject.
      BREAKER_FAILURES: "0",
    });
    try {
      // Anthropic's half is overloaded for this model; the OpenAI half serves OpenRouter's id of it.
      Object.assign(env.fake.behaviour, { errorStatus: 529, failModels: ["claude-sonnet-5"], requiredKey: undefined });
      const client = new Anthropic({ baseURL: both.url, apiKey: key, maxRetries: 0 });
      const { data, response } = await client.messages.create(thinkingTurn(uniquePrompt("fall back"))).withResponse();
      expect(response.headers.get("x-tiergate-model")).toBe("openrouter/anthropic/claude-sonnet-5");
      expect(response.headers.get("x-tiergate-dropped")).toContain("thinking");
      expect(data.type).toBe("message");
      expect(env.fake.seen.map((call) => call.path)).toEqual(expect.arrayContaining(["/v1/messages", "/v1/chat/completions"]));
    } finally {
      await both.close();
    }
  });
});
