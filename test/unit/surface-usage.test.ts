/**
 * Usage as each surface's clients read it, from a provider's OpenAI-format report: the
 * Messages counts (input without the cache's, the cache's always there, writes split by
 * the request's TTL), Chat's `prompt_tokens_details.cached_tokens` (added only where
 * missing, the rest passed on as the same bytes), and the Responses details; JSON,
 * streams and cache-hit replays alike.
 */
import { describe, expect, it } from "vitest";
import { replayAsStream } from "../../src/cache/stream-assembly.ts";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { anthropicMessagesSurface } from "../../src/surfaces/anthropic-messages/index.ts";
import { messageUsage, toMessage } from "../../src/surfaces/anthropic-messages/message.ts";
import { completionWithCachedTokens, streamWithCachedTokens } from "../../src/surfaces/chat-completions/cached-tokens.ts";
import { chatCompletionsSurface } from "../../src/surfaces/chat-completions/index.ts";
import { responseShell, toResponse } from "../../src/surfaces/openai-responses/response.ts";
import type { Parsed } from "../../src/surfaces/surface.ts";

const CACHED = { prompt_tokens: 1_000, completion_tokens: 50, prompt_tokens_details: { cached_tokens: 900, cache_write_tokens: 60 } };
const completion = (usage: unknown) =>
  JSON.stringify({
    id: "c1",
    object: "chat.completion",
    created: 1,
    model: "anthropic/claude-sonnet-4.5",
    choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }],
    usage,
  });
const parsedWith = (request: Partial<CanonicalRequest>): Parsed => ({
  request: { model: "auto", messages: [{ role: "user", content: "hi" }], ...request },
  dropped: [],
});
const HOUR_ASKED = parsedWith({ messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }] }] });
const text = async (body: ReadableStream<Uint8Array> | string): Promise<string> => (typeof body === "string" ? body : new Response(body).text());
const events = (sse: string): Record<string, unknown>[] =>
  sse
    .split("\n\n")
    .map((event) => /^data: (.*)$/m.exec(event)?.[1])
    .filter((data): data is string => data !== undefined && data !== "[DONE]")
    .map((data) => JSON.parse(data) as Record<string, unknown>);

describe("Messages usage", () => {
  it("counts input without the cache's reads and writes, and splits writes by the TTL the request asked for", () => {
    expect(messageUsage(CACHED)).toEqual({
      input_tokens: 40,
      cache_creation_input_tokens: 60,
      cache_read_input_tokens: 900,
      cache_creation: { ephemeral_5m_input_tokens: 60, ephemeral_1h_input_tokens: 0 },
      output_tokens: 50,
    });
    expect(messageUsage(CACHED, true).cache_creation).toEqual({ ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 60 });
  });

  it("always has the cache's fields, 0 when the provider reported none", () => {
    expect(JSON.parse(toMessage(completion({ prompt_tokens: 12, completion_tokens: 3 }))).usage).toEqual({
      input_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 3,
    });
  });

  it("renders them in JSON and at a stream's end, from a provider's stream and a replay, by the request's rule", async () => {
    const json = await anthropicMessagesSurface.render({ kind: "json", text: completion(CACHED) }, HOUR_ASKED);
    expect(JSON.parse(await text(json.body)).usage).toMatchObject({ input_tokens: 40, cache_creation: { ephemeral_1h_input_tokens: 60 } });
    const replay = replayAsStream(completion(CACHED), true);
    const live = new Response(replay).body!;
    for (const answer of [
      { kind: "replay" as const, body: replay },
      { kind: "stream" as const, body: live },
    ]) {
      const sse = await text((await anthropicMessagesSurface.render(answer, parsedWith({}))).body);
      const start = events(sse).find((event) => event.type === "message_start") as { message: { usage: Record<string, unknown> } };
      expect(start.message.usage).toMatchObject({ input_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
      const delta = events(sse).find((event) => event.type === "message_delta") as { usage: Record<string, unknown> };
      expect(delta.usage).toEqual(messageUsage(CACHED));
    }
  });
});

describe("Chat usage", () => {
  it("passes an answer that has cached_tokens on as the same text, and adds it, as 0, to one that has not", () => {
    const has = completion(CACHED);
    expect(completionWithCachedTokens(has)).toBe(has);
    const plain = completion({ prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: { audio_tokens: 0 } });
    expect(JSON.parse(completionWithCachedTokens(plain)).usage).toEqual({
      prompt_tokens: 5,
      completion_tokens: 1,
      prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
    });
    const without = completion(undefined);
    expect(completionWithCachedTokens(without)).toBe(without);
  });

  it("puts it in a stream's usage chunk, the other pieces going on as the same bytes", async () => {
    const encoder = new TextEncoder();
    const pieces = [
      encoder.encode('data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":null}\n\n'),
      encoder.encode('data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}\n\ndata: [DONE]\n\n'),
    ];
    const out: Uint8Array[] = [];
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(piece);
        controller.close();
      },
    });
    const reader = streamWithCachedTokens(source).getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) out.push(read.value);
    expect(out[0]).toBe(pieces[0]);
    expect(new TextDecoder().decode(out[1])).toBe(
      'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":0}}}\n\ndata: [DONE]\n\n',
    );
  });

  it("renders it in JSON, a relayed stream and a replay when the client asked for usage; a stream it did not ask usage of is left alone", async () => {
    const asked = parsedWith({ stream: true, stream_options: { include_usage: true } });
    const bare = completion({ prompt_tokens: 5, completion_tokens: 1 });
    const json = await chatCompletionsSurface.render({ kind: "json", text: bare }, parsedWith({}));
    expect(JSON.parse(await text(json.body)).usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    const replay = replayAsStream(bare, true);
    for (const answer of [
      { kind: "replay" as const, body: replay },
      { kind: "stream" as const, body: new Response(replay).body! },
    ]) {
      const sse = await text((await chatCompletionsSurface.render(answer, asked)).body);
      expect(events(sse).at(-1)).toMatchObject({ usage: { prompt_tokens_details: { cached_tokens: 0 } } });
    }
    const body = new Response(replay).body!;
    expect((await chatCompletionsSurface.render({ kind: "stream", body }, parsedWith({ stream: true }))).body).toBe(body);
    const cached = replayAsStream(completion(CACHED), true);
    expect((await chatCompletionsSurface.render({ kind: "replay", body: cached }, asked)).body).toBe(cached);
  });
});

describe("Responses usage", () => {
  it("has input_tokens_details.cached_tokens and output_tokens_details.reasoning_tokens, 0 when none", () => {
    const shell = responseShell({ model: "auto", input: "hi" }, "resp_1");
    const reasoned = { ...CACHED, completion_tokens_details: { reasoning_tokens: 20 } };
    expect(toResponse(completion(reasoned), shell).usage).toEqual({
      input_tokens: 1_000,
      input_tokens_details: { cached_tokens: 900 },
      output_tokens: 50,
      output_tokens_details: { reasoning_tokens: 20 },
      total_tokens: 1_050,
    });
    expect(toResponse(completion({ prompt_tokens: 3, completion_tokens: 1 }), shell).usage).toMatchObject({
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
  });
});
