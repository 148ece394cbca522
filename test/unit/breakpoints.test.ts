/**
 * Prompt-cache breakpoints from the client to the provider's body: what the Messages
 * surface keeps on each block, what the Chat surface accepts and refuses, how the
 * OpenAI-compatible adapter keeps, moves, places and strips them per target, and the
 * session as `prompt_cache_key` for the targets that cache by prefix.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { asksOneHourCache, breakpoints, type CanonicalRequest, CanonicalRequestSchema, MAX_BREAKPOINTS } from "../../src/canonical/request.ts";
import { ApiError } from "../../src/http/errors.ts";
import { anthropicBreakpoints, isAnthropicFamily, withoutBreakpoints } from "../../src/providers/breakpoints.ts";
import { openAiCompatible as adapter } from "../../src/providers/openai-compatible/index.ts";
import { anthropicMessagesSurface } from "../../src/surfaces/anthropic-messages/index.ts";
import { chatCompletionsSurface } from "../../src/surfaces/chat-completions/index.ts";

const LIMITS = { maxBodyBytes: 1_000_000, messagesMaxTokens: 32_000 };
const EPHEMERAL = { type: "ephemeral" } as const;
const HOUR = { type: "ephemeral", ttl: "1h" } as const;
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const post = (body: unknown): Request =>
  new Request("http://router/v1/messages", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const messages = async (body: Record<string, unknown>): Promise<CanonicalRequest> =>
  (await anthropicMessagesSurface.parse(post({ model: "auto", max_tokens: 64, ...body }), LIMITS)).request;
const refusal = async (parse: Promise<unknown>): Promise<ApiError> => {
  const error = await parse.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
};
const call = (id: string) => ({ role: "assistant", content: [{ type: "tool_use", id, name: "read_file", input: { path: "a.ts" } }] });

describe("the Messages surface keeps every breakpoint the client set", () => {
  it("on text, images, documents and tool definitions (four: Anthropic's limit)", async () => {
    const request = await messages({
      system: [{ type: "text", text: "You are terse." }],
      tools: [{ name: "read_file", input_schema: { type: "object" }, cache_control: EPHEMERAL }],
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL }, cache_control: EPHEMERAL },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "Notes" }, cache_control: EPHEMERAL },
            { type: "text", text: "Read it", cache_control: EPHEMERAL },
          ],
        },
      ],
    });
    expect(request.tools?.[0]).toMatchObject({ type: "function", function: { name: "read_file" }, cache_control: EPHEMERAL });
    expect(request.messages[0]).toEqual({ role: "system", content: [{ type: "text", text: "You are terse." }] });
    expect(request.messages[1]!.content).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL}` }, cache_control: EPHEMERAL },
      { type: "text", text: "Notes", cache_control: EPHEMERAL },
      { type: "text", text: "Read it", cache_control: EPHEMERAL },
    ]);
  });

  it("a tool_result that carries one becomes a tool message of text parts, the result's own on the last", async () => {
    const request = await messages({
      messages: [
        { role: "user", content: "Read a.ts" },
        call("toolu_1"),
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "export {}", cache_control: EPHEMERAL }] },
      ],
    });
    expect(request.messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: "toolu_1",
      content: [{ type: "text", text: "export {}", cache_control: EPHEMERAL }],
    });
  });

  it("a breakpoint inside a tool result stays on its part; one on an image the tool returned goes to the result's last text", async () => {
    const request = await messages({
      messages: [
        { role: "user", content: "Look" },
        call("toolu_1"),
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_1",
              is_error: true,
              content: [
                { type: "text", text: "first", cache_control: EPHEMERAL },
                { type: "text", text: "second" },
                { type: "image", source: { type: "url", url: "https://x/y.png" }, cache_control: HOUR },
              ],
            },
          ],
        },
      ],
    });
    expect(request.messages.slice(-2)).toEqual([
      {
        role: "tool",
        tool_call_id: "toolu_1",
        content: [
          { type: "text", text: "Error:" },
          { type: "text", text: "first", cache_control: EPHEMERAL },
          { type: "text", text: "second", cache_control: HOUR },
        ],
      },
      // The image follows as the user's, where it no longer stands at the result's end: it carries no breakpoint.
      { role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] },
    ]);
  });

  it("a tool result without a breakpoint stays a string, as before", async () => {
    const request = await messages({
      messages: [
        { role: "user", content: "Read" },
        call("toolu_1"),
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
      ],
    });
    expect(request.messages.at(-1)).toEqual({ role: "tool", tool_call_id: "toolu_1", content: "ok" });
  });

  it("an assistant's marked text stays a part, and a marked tool_use marks its message", async () => {
    const request = await messages({
      messages: [
        { role: "user", content: "Read" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Reading.", cache_control: EPHEMERAL },
            { type: "tool_use", id: "toolu_1", name: "read_file", input: {}, cache_control: HOUR },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
      ],
    });
    expect(request.messages[1]).toMatchObject({
      role: "assistant",
      content: [{ type: "text", text: "Reading.", cache_control: EPHEMERAL }],
      cache_control: HOUR,
    });
  });

  it("refuses an unknown type or ttl with Anthropic's 400 naming the field", async () => {
    const ttl = await refusal(
      messages({ messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "2h" } }] }] }),
    );
    expect(ttl).toMatchObject({ status: 400, param: "messages[0].content[0].cache_control.ttl" });
    expect(anthropicMessagesSurface.errorBody(ttl)).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("ttl") },
    });
    const type = await refusal(
      messages({ system: [{ type: "text", text: "s", cache_control: { type: "persistent" } }], messages: [{ role: "user", content: "hi" }] }),
    );
    expect(type).toMatchObject({ status: 400, param: "system[0].cache_control.type" });
    const inner = await refusal(
      messages({
        messages: [
          { role: "user", content: "Read" },
          call("toolu_1"),
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "x", cache_control: { type: "ephemeral", ttl: 60 } }] }],
          },
        ],
      }),
    );
    expect(inner.param).toBe("messages[2].content[0].content[0].cache_control.ttl");
  });

  it("refuses a fifth breakpoint, naming it, as Anthropic does", async () => {
    const marked = (text: string) => ({ type: "text", text, cache_control: EPHEMERAL });
    const error = await refusal(
      messages({
        system: [marked("system")],
        tools: [{ name: "t", cache_control: EPHEMERAL }],
        messages: [
          { role: "user", content: [marked("a"), marked("b")] },
          { role: "assistant", content: "ok" },
          { role: "user", content: [marked("c")] },
        ],
      }),
    );
    expect(error).toMatchObject({ status: 400, param: "messages[2].content[0].cache_control" });
    expect(error.message).toContain("at most 4");
  });
});

describe("the Chat surface takes breakpoints on parts, tools and tool messages", () => {
  const parse = (body: Record<string, unknown>) =>
    chatCompletionsSurface.parse(
      new Request("http://router/v1/chat/completions", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      LIMITS,
    );

  it("keeps them, and refuses an unknown ttl or a fifth in OpenAI's error body naming the field", async () => {
    const kept = await parse({
      model: "auto",
      messages: [{ role: "tool", tool_call_id: "c", content: [{ type: "text", text: "r", cache_control: HOUR }] }],
      tools: [{ type: "function", function: { name: "f" }, cache_control: EPHEMERAL }],
    });
    expect(kept.request.messages[0]!.content).toEqual([{ type: "text", text: "r", cache_control: HOUR }]);
    const ttl = await refusal(
      parse({ messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1d" } }] }] }),
    );
    expect(ttl).toMatchObject({ status: 400, param: "messages[0].content[0].cache_control.ttl" });
    expect(chatCompletionsSurface.errorBody(ttl)).toMatchObject({
      error: { param: "messages[0].content[0].cache_control.ttl", type: "invalid_request_error" },
    });
    const five = Array.from({ length: 5 }, (_, i) => ({ role: "user", content: [{ type: "text", text: `${i}`, cache_control: EPHEMERAL }] }));
    expect(await refusal(parse({ messages: five }))).toMatchObject({ status: 400, param: "messages[4].content[0].cache_control" });
  });
});

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

  it("sends Groq, which answers 400 to one, no prompt_cache_key, the session's or the client's", () => {
    const groq = {
      id: "groq",
      api: "openai-compatible" as const,
      baseUrl: "https://api.groq.com/openai/v1",
      apiKey: "gsk",
      configureWith: "GROQ_API_KEY",
      configured: true,
    };
    const body = adapter.body({ ...ask, prompt_cache_key: "mine" }, "openai/gpt-oss-120b", { stream: false, sessionKey: "s-1" });
    expect(JSON.parse(adapter.completionRequest(groq, body, false).body)).not.toHaveProperty("prompt_cache_key");
    expect(JSON.parse(adapter.completionRequest({ ...groq, id: "openrouter" }, body, false).body)).toMatchObject({ prompt_cache_key: "mine" });
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
