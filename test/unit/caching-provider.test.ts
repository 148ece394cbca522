/**
 * The agent bench's simulated provider cache (scripts/bench/prompt-cache.ts) and the fake
 * provider around it: breakpoint reads with lookback, TTLs, automatic prefix caching from
 * 1,024 tokens, one cache per model, and the usage it reports on OpenRouter's wire format.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aiderSession, MOST_PROMPT_TOKENS, readProfiles } from "../../scripts/bench/agent-replay.ts";
import { withAgentSectionOf, withSection } from "../../scripts/bench/agent-report.ts";
import {
  answerAsked,
  answerMarker,
  type CachingProvider,
  createCacheSimulator,
  sessionMarker,
  startCachingProvider,
} from "../../scripts/bench/caching-provider.ts";
import { claudeCodeSessions } from "../../scripts/bench/claude-code-replay.ts";
import { chatBlocks, messagesBlocks } from "../../scripts/bench/prompt-blocks.ts";
import { type Block, createPromptCache, type Ttl, tokensOf } from "../../scripts/bench/prompt-cache.ts";

const CLAUDE = "anthropic/claude-sonnet-4";
const GPT = "openai/gpt-4.1";
const MINUTE = 60_000;
/** A block of exactly `tokens` tokens (four characters each), distinct by its label. */
const block = (label: string, tokens: number, breakpoint?: Ttl): Block => ({ text: `${label}:`.padEnd(tokens * 4, "x"), breakpoint });
const history = (count: number, tokens = 100): Block[] => Array.from({ length: count }, (_, i) => block(`turn ${i}`, tokens));
/** Claude Code's shape: the system prompt and the last message carry the breakpoints. */
const claudeCode = (turns: Block[], ttl: Ttl = "5m"): Block[] => [block("system", 2_000, ttl), ...turns.slice(0, -1), { ...turns.at(-1)!, breakpoint: ttl }];

describe("Anthropic-family models: explicit breakpoints", () => {
  it("writes at the breakpoints, then reads the previous call's prefix when the breakpoint has moved on", () => {
    const cache = createPromptCache();
    const first = cache.serve({ model: CLAUDE, blocks: claudeCode(history(4)), now: 0 });
    expect(first).toEqual({ promptTokens: 2_400, cacheReadTokens: 0, cacheWriteTokens: 2_400, cacheWrite1hTokens: 0 });
    const second = cache.serve({ model: CLAUDE, blocks: claudeCode(history(6)), now: 10_000 });
    expect(second).toEqual({ promptTokens: 2_600, cacheReadTokens: 2_400, cacheWriteTokens: 200, cacheWrite1hTokens: 0 });
  });

  it("looks back at most 20 blocks from a breakpoint: past that, only the system prompt's breakpoint is found", () => {
    const cache = createPromptCache();
    cache.serve({ model: CLAUDE, blocks: claudeCode(history(4)), now: 0 });
    const within = createPromptCache();
    within.serve({ model: CLAUDE, blocks: claudeCode(history(4)), now: 0 });
    expect(within.serve({ model: CLAUDE, blocks: claudeCode(history(24)), now: 1 }).cacheReadTokens).toBe(2_400);
    expect(cache.serve({ model: CLAUDE, blocks: claudeCode(history(25)), now: 1 }).cacheReadTokens).toBe(2_000);
  });

  it("caches nothing without a breakpoint, and no prefix under 1,024 tokens", () => {
    const cache = createPromptCache();
    const plain = [block("system", 2_000), ...history(3)];
    cache.serve({ model: CLAUDE, blocks: plain, now: 0 });
    expect(cache.serve({ model: CLAUDE, blocks: plain, now: 1 }).cacheReadTokens).toBe(0);
    const short = [block("short", 1_000, "5m")];
    expect(cache.serve({ model: CLAUDE, blocks: short, now: 0 }).cacheWriteTokens).toBe(0);
    expect(cache.serve({ model: CLAUDE, blocks: short, now: 1 }).cacheReadTokens).toBe(0);
  });

  it("expires an entry 5 minutes after its last read, each read refreshing it", () => {
    const cache = createPromptCache();
    const blocks = claudeCode(history(2));
    cache.serve({ model: CLAUDE, blocks, now: 0 });
    expect(cache.serve({ model: CLAUDE, blocks, now: 4 * MINUTE }).cacheReadTokens).toBe(2_200);
    expect(cache.serve({ model: CLAUDE, blocks, now: 8 * MINUTE }).cacheReadTokens).toBe(2_200);
    const late = cache.serve({ model: CLAUDE, blocks, now: 13 * MINUTE + 1 });
    expect(late).toMatchObject({ cacheReadTokens: 0, cacheWriteTokens: 2_200 });
  });

  it("keeps a 1-hour write for the hour, and bills it in its own class", () => {
    const cache = createPromptCache();
    const blocks = claudeCode(history(2), "1h");
    expect(cache.serve({ model: CLAUDE, blocks, now: 0 })).toMatchObject({ cacheWriteTokens: 2_200, cacheWrite1hTokens: 2_200 });
    expect(cache.serve({ model: CLAUDE, blocks, now: 50 * MINUTE }).cacheReadTokens).toBe(2_200);
  });
});

describe("other models: automatic prefix caching", () => {
  it("reads a seen prefix from 1,024 tokens, in steps of 128, and bills no writes", () => {
    const cache = createPromptCache();
    const first = [block("system", 1_000), block("user 1", 300)];
    expect(cache.serve({ model: GPT, blocks: first, now: 0 })).toMatchObject({ cacheReadTokens: 0, cacheWriteTokens: 0 });
    const second = cache.serve({ model: GPT, blocks: [...first, block("user 2", 50)], now: 1 });
    expect(second).toEqual({ promptTokens: 1_350, cacheReadTokens: 1_280, cacheWriteTokens: 0, cacheWrite1hTokens: 0 });
  });

  it("reads nothing of a prefix under 1,024 tokens", () => {
    const cache = createPromptCache();
    const blocks = [block("system", 900), block("user", 100)];
    cache.serve({ model: GPT, blocks, now: 0 });
    expect(cache.serve({ model: GPT, blocks: [...blocks, block("more", 500)], now: 1 }).cacheReadTokens).toBe(0);
  });

  it("keeps prompt_cache_key in the cache's identity, and forgets after 5 idle minutes", () => {
    const cache = createPromptCache();
    const blocks = [block("system", 2_000)];
    cache.serve({ model: GPT, blocks, cacheKey: "a", now: 0 });
    expect(cache.serve({ model: GPT, blocks, cacheKey: "b", now: 1 }).cacheReadTokens).toBe(0);
    expect(cache.serve({ model: GPT, blocks, cacheKey: "a", now: 2 }).cacheReadTokens).toBe(1_920);
    expect(cache.serve({ model: GPT, blocks, cacheKey: "a", now: 2 + 5 * MINUTE }).cacheReadTokens).toBe(0);
  });
});

it("keeps one cache per model: a switch of model finds nothing", () => {
  const cache = createPromptCache();
  cache.serve({ model: CLAUDE, blocks: claudeCode(history(3)), now: 0 });
  cache.serve({ model: GPT, blocks: claudeCode(history(3)), now: 0 });
  expect(cache.serve({ model: "anthropic/claude-opus-4", blocks: claudeCode(history(3)), now: 1 }).cacheReadTokens).toBe(0);
  expect(cache.serve({ model: "openai/o3", blocks: claudeCode(history(3)), now: 1 }).cacheReadTokens).toBe(0);
  expect(cache.serve({ model: CLAUDE, blocks: claudeCode(history(3)), now: 1 }).cacheReadTokens).toBe(2_300);
});

describe("the blocks a provider sees", () => {
  it("keeps breakpoints on tool definitions, text parts and Messages tool results; an unknown TTL is none", () => {
    const chat = chatBlocks({
      tools: [{ type: "function", function: { name: "Read" }, cache_control: { type: "ephemeral" } }],
      messages: [
        { role: "system", content: [{ type: "text", text: "rules", cache_control: { type: "ephemeral", ttl: "1h" } }] },
        { role: "tool", tool_call_id: "t1", content: [{ type: "text", text: "out", cache_control: { type: "ephemeral", ttl: "2h" } }] },
      ],
    });
    expect(chat.map((b) => b.breakpoint)).toEqual(["5m", "1h", undefined]);
    const messages = messagesBlocks({
      system: [{ type: "text", text: "rules", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "out", cache_control: { type: "ephemeral" } }] }],
    });
    expect(messages.map((b) => b.breakpoint)).toEqual(["5m", "5m"]);
  });
});

describe("the caching provider on the wire, as OpenRouter reports usage", () => {
  let provider: CachingProvider;
  beforeAll(async () => {
    provider = await startCachingProvider();
  });
  afterAll(() => provider.close());

  const body = (last: string, extra: Record<string, unknown> = {}) => ({
    model: CLAUDE,
    messages: [
      { role: "system", content: [{ type: "text", text: `${sessionMarker("s1")} ${"rules ".repeat(1_000)}`, cache_control: { type: "ephemeral" } }] },
      { role: "user", content: last },
    ],
    ...extra,
  });
  const post = (path: string, payload: unknown) =>
    fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });

  it("answers JSON with cached and written tokens as parts of prompt_tokens, and records the call", async () => {
    provider.reset();
    await (await post("/openrouter/v1/chat/completions", body("first"))).json();
    provider.advance("s1", MINUTE);
    const answer = (await (await post("/openrouter/v1/chat/completions", body(`second ${answerMarker(40)}`))).json()) as {
      usage: Record<string, unknown>;
      choices: { message: { content: string } }[];
    };
    expect(answer.usage).toMatchObject({ completion_tokens: 40, prompt_tokens_details: { cached_tokens: 1_507, cache_write_tokens: 0 } });
    expect(answer.choices[0]!.message.content).toHaveLength(160);
    expect(provider.calls.map((c) => [c.provider, c.session, c.usage.cacheReadTokens])).toEqual([
      ["openrouter", "s1", 0],
      ["openrouter", "s1", 1_507],
    ]);
  });

  it("streams a tool call when asked, with the usage chunk at the end, and names the provider by its path", async () => {
    provider.reset();
    const response = await post(
      "/groq/v1/chat/completions",
      body(`go ${answerMarker(5, { name: "Bash", id: "toolu_1" })}`, {
        model: "llama-3.3-70b-versatile",
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const events = (await response.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => JSON.parse(e.slice(6)));
    expect(events.some((e) => e.choices[0]?.delta?.tool_calls?.[0]?.id === "toolu_1")).toBe(true);
    expect(events.some((e) => e.choices[0]?.finish_reason === "tool_calls")).toBe(true);
    expect(events.at(-1).usage).toMatchObject({ completion_tokens: 5, prompt_tokens_details: { cached_tokens: 0 } });
    expect(provider.calls[0]).toMatchObject({ provider: "groq", model: "llama-3.3-70b-versatile" });
  });
});

describe("the agent bench's replays, sent straight to the simulated provider", () => {
  it("grows a Claude Code session to its target, with breakpoints on the system prompt and the last message only", () => {
    const [session] = claudeCodeSessions([28_000]);
    const simulator = createCacheSimulator();
    const calls = [...session!.calls()];
    for (const call of calls) {
      simulator.advance(session!.id, call.gapMs);
      const blocks = messagesBlocks(call.body);
      expect(blocks.filter((b) => b.breakpoint !== undefined)).toHaveLength(3);
      expect(blocks.at(-1)!.breakpoint).toBe("5m");
      simulator.serve({ provider: "openrouter", model: CLAUDE, blocks, session: session!.id, completionTokens: 1 });
    }
    const prompts = simulator.calls.map((c) => c.usage.promptTokens);
    expect(prompts.at(-1)).toBeGreaterThanOrEqual(28_000);
    expect(prompts.at(-1)).toBeLessThan(36_000);
    expect(calls.filter((c) => c.kind === "user").length).toBeGreaterThan(0);
    const read = simulator.calls.reduce((n, c) => n + c.usage.cacheReadTokens, 0);
    expect(read / prompts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.85);
  });

  it("replays an Aider profile at its recorded sizes, answering tool-result turns with the tool call they continue", () => {
    const profile = readProfiles().find((p) => p.turns.some((t) => t.kind === "tool_result") && p.turns.length <= 8)!;
    const calls = [...aiderSession(profile, 0).calls()];
    expect(calls).toHaveLength(profile.turns.length);
    for (const [i, call] of calls.entries()) {
      const tokens = messagesBlocks(call.body).reduce((n, b) => n + tokensOf(b.text), 0);
      const recorded = profile.turns[i]!.input_tokens + (profile.turns[i]!.cache_read_tokens ?? 0) + (profile.turns[i]!.cache_write_tokens ?? 0);
      expect(Math.abs(tokens - Math.min(recorded, MOST_PROMPT_TOKENS)) / recorded).toBeLessThan(0.15);
      const last = (call.body.messages as { content: { type: string; tool_use_id?: string }[] }[]).at(-1)!.content[0]!;
      if (call.kind === "tool_result") expect(last.tool_use_id).toBe(answerAsked(calls[i - 1]!.body.messages as unknown[]).tool?.id);
    }
  });

  it("writes its table into RESULTS.md in place of the last run's, before 'How to read this'", () => {
    const first = withSection("# Bench\n\n## Latency\nx\n\n## How to read this\ny\n", "## Agent sessions: what a coding agent pays (run 1)\nA\n");
    expect(first).toBe("# Bench\n\n## Latency\nx\n\n## Agent sessions: what a coding agent pays (run 1)\nA\n\n## How to read this\ny\n");
    const second = withSection(first, "## Agent sessions: what a coding agent pays (run 2)\nB\n");
    expect(second).toBe("# Bench\n\n## Latency\nx\n\n## Agent sessions: what a coding agent pays (run 2)\nB\n\n## How to read this\ny\n");
  });

  it("keeps its table when another bench rewrites RESULTS.md (the edge bench dropped it)", () => {
    const old = "# Bench\n\n## Latency\nx\n\n## Agent sessions: what a coding agent pays (run 1)\nA\n\n## How to read this\ny\n";
    const rewritten = "# Bench\n\n## Latency\nz\n\n## How to read this\ny\n";
    expect(withAgentSectionOf(old, rewritten)).toBe(
      "# Bench\n\n## Latency\nz\n\n## Agent sessions: what a coding agent pays (run 1)\nA\n\n## How to read this\ny\n",
    );
    expect(withAgentSectionOf("# Bench\n", rewritten)).toBe(rewritten);
  });
});
