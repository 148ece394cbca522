/**
 * Claude on Vertex AI through the router, with the official `@anthropic-ai/sdk` and `openai`
 * clients, against real Redis and Postgres and the fake's Vertex (which checks the bearer token
 * its token endpoint issued, the body's `anthropic_version` and that it names no model): a
 * Messages request goes through as the client sent it (thinking and its signature, a breakpoint
 * on a tool result, the beta header) and its stream comes back event for event; a Chat
 * Completions request is translated to Messages and back, streamed and not; usage is charged by
 * class at Anthropic's list.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { fakeNativeProviders } from "../../scripts/local/fake-native.ts";
import { flushedRows, makeKey } from "../support/clients.ts";
import { uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const MODEL = "vertex-anthropic/claude-sonnet-5";
const CALL = "/v1/projects/proj-claude/locations/global/publishers/anthropic/models/claude-sonnet-5";
const env = useFakeStack({
  // Vertex alone: what answers is Vertex's Claude.
  providers: (fake) => fakeNativeProviders(fake, ["vertex"], { project: "proj-claude" }),
  bindings: { UPSTREAM_RETRY_BASE_MS: "5", BREAKER_FAILURES: "0", REQUIRE_API_KEY: "false" },
});
let claude: Anthropic;
let openai: OpenAI;

beforeAll(() => {
  claude = new Anthropic({ baseURL: env.router.url, apiKey: "unused-by-the-router-here", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: "unused-by-the-router-here", maxRetries: 0 });
});

/** The last call to Vertex's Claude, checked to have carried the token. */
const lastCall = () => {
  const last = env.fake.seen.filter((seen) => seen.path.includes("/publishers/anthropic/")).at(-1)!;
  expect(String(last.headers.authorization)).toMatch(/^Bearer ya29\.fake-/);
  expect(last.headers["x-api-key"]).toBeUndefined();
  return last;
};

const SIGNATURE = "EqQBCkYIBxgCKkB0c2lnbmF0dXJlLW9mLXRoZS10aGlua2luZw==";
const BETA = "interleaved-thinking-2025-05-14";

/** A turn of Claude Code with thinking on: its earlier thinking with the signature, a tool call, the tool's result with a breakpoint. */
function agentTurn(prompt: string): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 2_048,
    thinking: { type: "enabled", budget_tokens: 1_024 },
    system: [{ type: "text", text: "You are a coding agent.", cache_control: { type: "ephemeral", ttl: "1h" } }],
    tools: [{ name: "read_file", description: "Reads a file", input_schema: { type: "object", properties: { path: { type: "string" } } } }],
    messages: [
      { role: "user", content: prompt },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "I should read the file.", signature: SIGNATURE },
          { type: "tool_use", id: "toolu_01A", name: "read_file", input: { path: "a.ts" } },
        ],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "toolu_01A", content: [{ type: "text", text: "export {}" }], cache_control: { type: "ephemeral" } }],
      },
    ],
  };
}

describe("a Messages request to Claude on Vertex (passed through)", () => {
  it("reaches rawPredict with the client's own blocks and beta header, the model in the URL, Vertex's version in the body", async () => {
    const body = agentTurn(uniquePrompt("What does a.ts export?"));
    const { data, response } = await claude.messages.create(body, { headers: { "anthropic-beta": BETA } }).withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe(MODEL);
    expect(response.headers.get("x-tiergate-dropped")).toBeNull();
    const sent = lastCall();
    expect(sent.path).toBe(`${CALL}:rawPredict`);
    expect(sent.headers["anthropic-beta"]).toBe(BETA);
    const { model: _inTheUrl, ...asSent } = body;
    expect(sent.body).toEqual({ anthropic_version: "vertex-2023-10-16", ...asSent });
    // The answer as Claude on Vertex sent it: thinking with its signature first.
    expect(data.content[0]).toEqual({ type: "thinking", thinking: "Let me think about this. ", signature: expect.any(String) });
    expect(data.content[1]).toEqual({ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" });
    expect(data.stop_reason).toBe("end_turn");
  });

  it("streams from streamRawPredict, Anthropic's events as Vertex sent them, event for event", async () => {
    const stream = claude.messages.stream(agentTurn(uniquePrompt("Stream it")), { headers: { "anthropic-beta": BETA } });
    const events: string[] = [];
    for await (const event of stream) events.push(event.type === "content_block_delta" ? `${event.type}:${event.delta.type}` : event.type);
    expect(events).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta:thinking_delta",
      "content_block_delta:signature_delta",
      "content_block_stop",
      "content_block_start",
      ...Array.from({ length: 8 }, () => "content_block_delta:text_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const final = await stream.finalMessage();
    expect(final.content[1]).toEqual({ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" });
    expect(final.usage.output_tokens).toBe(14);
    const sent = lastCall();
    expect(sent.path).toBe(`${CALL}:streamRawPredict`);
    expect(sent.body).toMatchObject({ anthropic_version: "vertex-2023-10-16", stream: true });
    expect(sent.body).not.toHaveProperty("model");
  });

  it("relays the raw stream byte for byte in the order the fake wrote it, ping included", async () => {
    const response = await fetch(`${env.router.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "unused", "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: uniquePrompt("raw") }] }),
    });
    expect(response.status).toBe(200);
    const names = [...(await response.text()).matchAll(/^event: (\S+)$/gm)].map((match) => match[1]);
    expect(names).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      ...Array.from({ length: 8 }, () => "content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });
});

describe("a Chat Completions request to Claude on Vertex (translated)", () => {
  it("goes as the Anthropic adapter's body, without a model, and comes back as a chat completion", async () => {
    const prompt = uniquePrompt("Say hi");
    const { data, response } = await openai.chat.completions
      .create({
        model: MODEL,
        messages: [
          { role: "system", content: "Be kind." },
          { role: "user", content: prompt },
        ],
        max_tokens: 50,
      })
      .withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe(MODEL);
    expect(data.choices[0]!.message.content).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage?.completion_tokens).toBe(8);
    const sent = lastCall();
    expect(sent.path).toBe(`${CALL}:rawPredict`);
    expect(sent.body).toEqual({
      anthropic_version: "vertex-2023-10-16",
      max_tokens: 50,
      system: [{ type: "text", text: "Be kind.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: [{ type: "text", text: prompt, cache_control: { type: "ephemeral" } }] }],
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
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(usage?.completion_tokens).toBe(8);
    expect(lastCall().path).toBe(`${CALL}:streamRawPredict`);
  });

  it("turns Claude's overload on Vertex (Anthropic's 529) into the router's 503 after retries", async () => {
    env.fake.behaviour = { ...env.fake.behaviour, errorStatus: 529 };
    const refused = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: uniquePrompt("busy") }] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(env.fake.seen.filter((seen) => seen.path.includes("/publishers/anthropic/")).length).toBeGreaterThan(1);
  });
});

describe("money", () => {
  it("charges each usage class at Anthropic's list, the dated Haiku id too, for both surfaces", async () => {
    const { key, id } = await makeKey(env.router, env.storage, { name: "vertex-money", daily_budget_usd: 5, rpm: 10_000, tpm: 5_000_000 });
    const haiku = "vertex-anthropic/claude-haiku-4.5";
    env.fake.behaviour.usage = {
      input_tokens: 1_000,
      cache_read_input_tokens: 10_000,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 8,
    };
    // Haiku 4.5 at Anthropic's list: input 1, output 5, read 0.1, 5-minute write 1.25, 1-hour write 2 (USD per million).
    // 1,000 × 1 + 10,000 × 0.1 + 1,000 × 1.25 + 2,000 × 2 + 8 × 5 = 1,000 + 1,000 + 1,250 + 4,000 + 40 = 7,290 µ$.
    const expected = 7_290;
    const long = "x".repeat(60_000);
    const paying = {
      openai: new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: key, maxRetries: 0 }),
      claude: new Anthropic({ baseURL: env.router.url, apiKey: key, maxRetries: 0 }),
    };
    await paying.openai.chat.completions.create({ model: haiku, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] });
    await paying.claude.messages.create({ model: haiku, max_tokens: 64, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] });
    await paying.claude.messages.stream({ model: haiku, max_tokens: 64, messages: [{ role: "user", content: `${long} ${uniquePrompt()}` }] }).finalMessage();
    expect(lastCall().path).toBe("/v1/projects/proj-claude/locations/global/publishers/anthropic/models/claude-haiku-4-5%4020251001:streamRawPredict");
    const rows = await flushedRows(env.router, env.storage, id, 3);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ model: haiku, provider: "vertex-anthropic" });
      expect([row.cache_read_tokens, row.cache_write_tokens, row.cache_write_1h_tokens].map(Number)).toEqual([10_000, 1_000, 2_000]);
      expect(Math.round(Number(row.cost_usd) * 1e6)).toBe(expected);
    }
  });
});
