/**
 * Breakpoints through workerd to the fake provider, as it receives them: Claude Code's
 * own request (test/fixtures/claude-code) keeps its breakpoint on the last tool result;
 * a Chat client's request to Claude gets the router's; another model gets none and the
 * client's `prompt_cache_key`; a bad `cache_control` is a 400 in each surface's format.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";

const priced = { input_usd_per_mtok: 3, output_usd_per_mtok: 15, price_read_on: "2026-11-01", context_window: 200_000, capabilities: ["tools", "streaming"] };
const MODELS = [
  { id: "claude-test", provider: "openrouter", upstream_model: "anthropic/claude-test-4", tier: 4, ...priced },
  { id: "gpt-test", provider: "openrouter", upstream_model: "openai/gpt-test", tier: 3, ...priced },
  { id: "groq-test", provider: "groq", upstream_model: "openai/gpt-oss-test", tier: 2, ...priced },
];
const EPHEMERAL = { type: "ephemeral" };
const { claude_code: _, ...scaffold } = JSON.parse(readFileSync("test/fixtures/claude-code/scaffold.json", "utf8")) as Record<string, unknown>;
const turns = JSON.parse(readFileSync("test/fixtures/claude-code/turns.json", "utf8")) as Record<string, { messages: unknown[] }>;

let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

beforeAll(async () => {
  stack = await startWithFakeProvider({ MODELS_JSON: JSON.stringify(MODELS) });
  ({ fake, router } = stack);
});
afterAll(() => stack.close());
beforeEach(() => stack.reset());

type Sent = { messages: { role: string; content: unknown; cache_control?: unknown }[]; tools?: { cache_control?: unknown }[]; prompt_cache_key?: string };
const sent = (): Sent => fake.seen.at(-1)!.body as Sent;
const tools = [
  { type: "function", function: { name: "read_file", parameters: { type: "object" } } },
  { type: "function", function: { name: "run", parameters: { type: "object" } } },
];

describe("what Claude Code sends", () => {
  it("reaches Claude with its breakpoint on the last tool result, as a text part of the tool message, and its system prompt's kept", async () => {
    const turn = turns["read-file-result"]!;
    const last = turn.messages.at(-1) as { content: { content: string; cache_control?: unknown }[] };
    expect(last.content[0]!.cache_control).toEqual(EPHEMERAL);
    const body = {
      ...scaffold,
      model: "claude-test",
      stream: false,
      messages: [...turn.messages.slice(0, -1), { ...last, content: [{ ...last.content[0], content: `${last.content[0]!.content}${uniquePrompt("")}` }] }],
    };
    const response = await router.post("/v1/messages?beta=true", body, { "anthropic-version": "2023-06-01" });
    expect(response.status).toBe(200);
    const { messages, tools: sentTools } = sent();
    expect(messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: "call_fakemx7qsj7c",
      content: [{ type: "text", text: expect.stringContaining("export function total"), cache_control: EPHEMERAL }],
    });
    const system = messages[0]!.content as { cache_control?: unknown }[];
    expect(system.filter((part) => part.cache_control !== undefined)).toHaveLength(2);
    // The client set its own: the router adds none.
    expect(sentTools?.some((tool) => tool.cache_control !== undefined)).toBe(false);
    expect(JSON.stringify(messages).match(/cache_control/g)).toHaveLength(3);
  });

  it("sends a long tool result on as the bytes the client wrote it in, its own escapes kept", async () => {
    // JSON.stringify would write é and ✓ as they are; the client escaped them, and a long string goes on as it came.
    const output = `${'✓ passed: caf\\u00e9 \\u2713\\n\\t\\"quoted\\" '.repeat(40)}${uniquePrompt("")}`;
    const text =
      `{"model":"claude-test","max_tokens":64,"stream":false,"messages":[{"role":"user","content":"Run the tests"},` +
      `{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"run","input":{}}]},` +
      `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"${output}"}]}]}`;
    const response = await router.post("/v1/messages", text, { "anthropic-version": "2023-06-01" });
    expect(response.status).toBe(200);
    const arrived = fake.seen.at(-1)!;
    expect(arrived.text).toContain(`"${output}"`);
    const result = JSON.parse(`"${output}"`) as string;
    // The router moved the text into a part that carries its breakpoint: the part is new, the string in it the client's.
    expect(arrived.body.messages).toContainEqual(
      expect.objectContaining({ role: "tool", content: [{ type: "text", text: result, cache_control: EPHEMERAL }] }),
    );
    expect(arrived.body.model).toBe("anthropic/claude-test-4");
  });
});

describe("a client that set none", () => {
  it("reaching Claude, gets the router's: the last tool, the system prompt, the last message", async () => {
    const response = await router.post("/v1/chat/completions", {
      model: "claude-test",
      tools,
      messages: [
        { role: "system", content: "You are a coding agent." },
        { role: "user", content: uniquePrompt("Read a.ts") },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "read_file", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "export {}" },
      ],
    });
    expect(response.status).toBe(200);
    const { messages, tools: sentTools } = sent();
    expect(sentTools?.map((tool) => tool.cache_control)).toEqual([undefined, EPHEMERAL]);
    expect(messages[0]).toEqual({ role: "system", content: [{ type: "text", text: "You are a coding agent.", cache_control: EPHEMERAL }] });
    expect(messages[3]).toEqual({ role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "export {}", cache_control: EPHEMERAL }] });
  });

  it("through the Responses surface too", async () => {
    const response = await router.post("/v1/responses", { model: "claude-test", instructions: "Be brief.", input: uniquePrompt("hi"), store: false });
    expect(response.status).toBe(200);
    expect(sent().messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Be brief.", cache_control: EPHEMERAL }] },
      { role: "user", content: [{ type: "text", text: expect.stringContaining("hi"), cache_control: EPHEMERAL }] },
    ]);
  });
});

describe("another model", () => {
  it("gets no breakpoint anywhere, and the client's prompt_cache_key", async () => {
    const response = await router.post("/v1/chat/completions", {
      model: "gpt-test",
      prompt_cache_key: "agent-7",
      tools: [{ ...tools[0], cache_control: EPHEMERAL }],
      messages: [{ role: "user", content: [{ type: "text", text: uniquePrompt("hi"), cache_control: { type: "ephemeral", ttl: "1h" } }] }],
    });
    expect(response.status).toBe(200);
    const body = sent();
    expect(JSON.stringify(body)).not.toContain("cache_control");
    expect(body.prompt_cache_key).toBe("agent-7");
  });

  it("at Groq, which answers 400 to a prompt_cache_key, gets none", async () => {
    const response = await router.post("/v1/chat/completions", {
      model: "groq-test",
      prompt_cache_key: "agent-7",
      messages: [{ role: "user", content: uniquePrompt("hi") }],
    });
    expect(response.status).toBe(200);
    expect(fake.seen.at(-1)!.body.model).toBe("openai/gpt-oss-test");
    expect(sent()).not.toHaveProperty("prompt_cache_key");
  });
});

describe("a bad cache_control", () => {
  it("is a 400 naming the field, in Anthropic's error body on /v1/messages and OpenAI's on chat", async () => {
    const before = fake.seen.length;
    const messages = await router.post("/v1/messages", {
      model: "claude-test",
      max_tokens: 16,
      messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "10m" } }] }],
    });
    expect(messages.status).toBe(400);
    expect(await messages.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("messages[0].content[0].cache_control.ttl") },
    });
    const chat = await router.post("/v1/chat/completions", {
      model: "claude-test",
      messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "persistent" } }] }],
    });
    expect(chat.status).toBe(400);
    expect((await chat.json()).error).toMatchObject({ type: "invalid_request_error", param: "messages[0].content[0].cache_control.type" });
    expect(fake.seen.length).toBe(before);
  });
});
