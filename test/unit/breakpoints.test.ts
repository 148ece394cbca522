/**
 * Prompt-cache breakpoints from the canonical request to the provider's body: how the
 * OpenAI-compatible adapter keeps, moves, places and strips them per target (the pure
 * functions of providers/breakpoints.ts, and a property over generated requests), and
 * the session as `prompt_cache_key` for the targets that cache by prefix.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { asksOneHourCache, breakpoints, type CanonicalRequest, CanonicalRequestSchema, MAX_BREAKPOINTS } from "../../src/canonical/request.ts";
import { anthropicBreakpoints, isAnthropicFamily, withoutBreakpoints } from "../../src/providers/breakpoints.ts";
import { openAiCompatible as adapter } from "../../src/providers/openai-compatible/index.ts";
import { sentJson } from "../support/sent-json.ts";

const EPHEMERAL = { type: "ephemeral" } as const;
const HOUR = { type: "ephemeral", ttl: "1h" } as const;

describe("breakpoints as each target can carry them", () => {
  const base: CanonicalRequest = CanonicalRequestSchema.parse({
    model: "auto",
    tools: [
      { type: "function", function: { name: "a" } },
      { type: "function", function: { name: "b" } },
    ],
    messages: [
      { role: "system", content: "You are terse." },
      { role: "developer", content: [{ type: "text", text: "Repo rules" }] },
      { role: "user", content: "Read a.ts" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "a", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: "export {}" },
    ],
  });

  it("tells Claude by its upstream id, wherever it is served", () => {
    expect(["anthropic/claude-sonnet-4.5", "claude-haiku-4-5", "us.anthropic.claude-opus-4-5-v1:0"].every(isAnthropicFamily)).toBe(true);
    expect(["openai/gpt-4o-mini", "llama-3.1-8b-instant", "deepseek/deepseek-chat"].some(isAnthropicFamily)).toBe(false);
  });

  it("places the router's own where the client set none: the last tool, the system prompt's last part, the last message", () => {
    const { messages, tools } = anthropicBreakpoints(base);
    expect(tools?.map((tool) => tool.cache_control)).toEqual([undefined, EPHEMERAL]);
    expect(messages[0]).toEqual(base.messages[0]);
    expect(messages[1]!.content).toEqual([{ type: "text", text: "Repo rules", cache_control: EPHEMERAL }]);
    expect(messages[4]).toEqual({ role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "export {}", cache_control: EPHEMERAL }] });
    expect(messages.slice(2, 4)).toEqual(base.messages.slice(2, 4));
    // Three, within Anthropic's four; and the request itself is left as it was.
    expect(JSON.stringify({ messages, tools }).match(/cache_control/g)).toHaveLength(3);
    expect(JSON.stringify(base)).not.toContain("cache_control");
  });

  it("places none on a request that is a system prompt alone, but one on it", () => {
    const { messages } = anthropicBreakpoints({ messages: [{ role: "system", content: "Only" }] });
    expect(messages).toEqual([{ role: "system", content: [{ type: "text", text: "Only", cache_control: EPHEMERAL }] }]);
  });

  it("keeps the client's where they stand and adds none", () => {
    const marked = {
      ...base,
      messages: [
        ...base.messages.slice(0, 4),
        { role: "tool" as const, tool_call_id: "c1", content: [{ type: "text" as const, text: "x", cache_control: HOUR }] },
      ],
    };
    const { messages, tools } = anthropicBreakpoints(marked);
    expect(messages).toBe(marked.messages);
    expect(tools).toBe(marked.tools);
  });

  it("moves a breakpoint on a message to its last part, and past a message of tool calls alone to the one before", () => {
    const marked = {
      ...base,
      messages: base.messages.map((message, i) =>
        i === 3 ? { ...message, cache_control: HOUR } : i === 4 ? { ...message, cache_control: EPHEMERAL } : message,
      ),
    };
    const { messages } = anthropicBreakpoints(marked);
    expect(messages[2]).toEqual({ role: "user", content: [{ type: "text", text: "Read a.ts", cache_control: HOUR }] });
    expect(messages[3]).toEqual(base.messages[3]);
    expect(messages[4]).toEqual({ role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "export {}", cache_control: EPHEMERAL }] });
    expect(marked.messages[3]).toHaveProperty("cache_control");
  });

  it("moves a breakpoint with no earlier part onto the last tool definition", () => {
    const { messages, tools } = anthropicBreakpoints({ tools: base.tools, messages: [{ ...base.messages[3]!, cache_control: EPHEMERAL } as never] });
    expect(messages[0]).not.toHaveProperty("cache_control");
    expect(tools?.[1]?.cache_control).toEqual(EPHEMERAL);
  });

  it("strips every one for other targets: messages, parts and tools", () => {
    const marked = anthropicBreakpoints(base);
    const { messages, tools } = withoutBreakpoints({
      ...marked,
      messages: [{ ...marked.messages[0]!, cache_control: EPHEMERAL } as never, ...marked.messages.slice(1)],
    });
    expect(JSON.stringify({ messages, tools })).not.toContain("cache_control");
    expect(withoutBreakpoints(base).messages).toBe(base.messages);
  });

  it("says whether the request asked for an hour, the rule its cache writes are reported by", () => {
    expect(asksOneHourCache(base)).toBe(false);
    expect(asksOneHourCache(anthropicBreakpoints(base))).toBe(false);
    expect(asksOneHourCache({ messages: [{ role: "user", content: [{ type: "text", text: "x", cache_control: HOUR }] }] })).toBe(true);
  });
});

describe("the OpenAI-compatible body", () => {
  const ask: CanonicalRequest = {
    model: "auto",
    messages: [
      { role: "system", content: "Sys" },
      { role: "user", content: "hi" },
    ],
  };

  it("gives Claude the router's breakpoints and no prompt_cache_key", () => {
    const body = adapter.body(ask, "anthropic/claude-sonnet-4.5", { stream: false, sessionKey: "s-1" }) as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Sys", cache_control: EPHEMERAL }] },
      { role: "user", content: [{ type: "text", text: "hi", cache_control: EPHEMERAL }] },
    ]);
    expect(body).not.toHaveProperty("prompt_cache_key");
  });

  it("gives any other model the session as its prompt_cache_key, unless the client set one, and no breakpoints", () => {
    const marked = anthropicBreakpoints(ask);
    const body = adapter.body({ ...ask, ...marked }, "openai/gpt-4o-mini", { stream: false, sessionKey: "s-1" }) as Record<string, unknown>;
    expect(body.prompt_cache_key).toBe("s-1");
    expect(body.messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Sys" }] },
      { role: "user", content: [{ type: "text", text: "hi" }] },
    ]);
    expect(
      (adapter.body({ ...ask, prompt_cache_key: "mine" }, "openai/gpt-4o-mini", { stream: false, sessionKey: "s-1" }) as Record<string, unknown>)
        .prompt_cache_key,
    ).toBe("mine");
    expect(adapter.body(ask, "llama-3.1-8b-instant", { stream: false })).not.toHaveProperty("prompt_cache_key");
  });

  it("sends Groq, which answers 400 to one, no prompt_cache_key, the session's or the client's", async () => {
    const groq = {
      id: "groq",
      api: "openai-compatible" as const,
      baseUrl: "https://api.groq.com/openai/v1",
      apiKey: "gsk",
      configureWith: "GROQ_API_KEY",
      configured: true,
    };
    const body = adapter.body({ ...ask, prompt_cache_key: "mine" }, "openai/gpt-oss-120b", { stream: false, sessionKey: "s-1" });
    expect(sentJson(await adapter.completionRequest(groq, body, false))).not.toHaveProperty("prompt_cache_key");
    expect(sentJson(await adapter.completionRequest({ ...groq, id: "openrouter" }, body, false))).toMatchObject({ prompt_cache_key: "mine" });
  });
});

describe("any request the surfaces accept", () => {
  const mark = fc.option(fc.constantFrom({ type: "ephemeral" as const }, { type: "ephemeral" as const, ttl: "1h" as const }), { nil: undefined });
  const withMark = <T extends object>(value: T, cache_control: unknown): T => (cache_control ? { ...value, cache_control } : value);
  const part = fc
    .tuple(fc.constantFrom("text", "image_url"), fc.string({ maxLength: 3 }), mark)
    .map(([type, text, cache_control]) => withMark(type === "text" ? { type, text } : { type, image_url: { url: "https://x/y.png" } }, cache_control));
  const message = fc
    .oneof(
      fc.tuple(fc.constantFrom("system", "user"), fc.oneof(fc.string({ maxLength: 3 }), fc.array(part, { minLength: 1, maxLength: 3 })), mark),
      fc.tuple(fc.constant("assistant"), fc.constant(null), mark),
      fc.tuple(fc.constant("tool"), fc.string({ maxLength: 3 }), mark),
    )
    .map(([role, content, cache_control]) => {
      const base =
        role === "assistant"
          ? { role, content, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }
          : role === "tool"
            ? { role, content, tool_call_id: "c" }
            : { role, content: role === "system" && Array.isArray(content) ? content.filter((p) => p.type === "text") : content };
      return withMark(base, cache_control);
    });
  const tool = mark.map((cache_control) => withMark({ type: "function", function: { name: "f" } }, cache_control));
  const request = fc
    .record({ messages: fc.array(message, { minLength: 1, maxLength: 6 }), tools: fc.array(tool, { maxLength: 3 }) })
    .map((body) => CanonicalRequestSchema.safeParse({ model: "auto", ...body }))
    .filter((parsed) => parsed.success)
    .map((parsed) => parsed.data as CanonicalRequest);

  const hasCarrier = (asked: CanonicalRequest): boolean =>
    (asked.tools ?? []).length > 0 ||
    asked.messages.some((m) =>
      typeof m.content === "string" ? m.content !== "" : Array.isArray(m.content) && m.content.some((p) => p.type !== "text" || p.text !== ""),
    );

  it("reaches Claude with at most four breakpoints, each on a part or a tool, none on a message, and no hour the client did not ask", () => {
    fc.assert(
      fc.property(request, (asked) => {
        const sent = anthropicBreakpoints(asked);
        const placed = breakpoints(sent);
        expect(placed.length).toBeLessThanOrEqual(MAX_BREAKPOINTS);
        expect(placed.every(({ path }) => path[0] === "tools" || path[2] === "content")).toBe(true);
        // Where the client set none, something is cached wherever anything could be.
        if (breakpoints(asked).length === 0 && hasCarrier(asked)) expect(placed.length).toBeGreaterThan(0);
        // The router never asks for an hour the client did not (a client's hour with nothing before it to cache is dropped).
        if (asksOneHourCache(sent)) expect(asksOneHourCache(asked)).toBe(true);
      }),
    );
  });

  it("reaches any other model with none", () => {
    fc.assert(
      fc.property(request, (asked) => {
        expect(breakpoints(withoutBreakpoints(asked))).toEqual([]);
      }),
    );
  });
});
