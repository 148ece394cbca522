/**
 * Prompt-cache breakpoints as the surfaces read them: what the Messages surface keeps on
 * each block (tool results as text parts, a tool's image's moved to its result), what the
 * Chat surface accepts, and the 400s naming a bad or fifth `cache_control` in each
 * surface's format.
 */
import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { anthropicMessagesSurface } from "../../src/surfaces/anthropic-messages/index.ts";
import { chatCompletionsSurface } from "../../src/surfaces/chat-completions/index.ts";
import { refusal } from "../support/refusal.ts";

const LIMITS = { maxBodyBytes: 1_000_000, messagesMaxTokens: 32_000 };
const EPHEMERAL = { type: "ephemeral" } as const;
const HOUR = { type: "ephemeral", ttl: "1h" } as const;
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const post = (body: unknown): Request =>
  new Request("http://router/v1/messages", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const messages = async (body: Record<string, unknown>): Promise<CanonicalRequest> =>
  (await anthropicMessagesSurface.parse(post({ model: "auto", max_tokens: 64, ...body }), LIMITS)).request;
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
    // A marked empty text is no part (Anthropic refuses a breakpoint on one): the calls stand alone.
    const empty = await messages({
      messages: [
        { role: "user", content: "Read" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "", cache_control: EPHEMERAL },
            { type: "tool_use", id: "toolu_1", name: "read_file", input: {} },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
      ],
    });
    expect(empty.messages[1]).toMatchObject({ role: "assistant", content: null, tool_calls: [{ id: "toolu_1" }] });
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
