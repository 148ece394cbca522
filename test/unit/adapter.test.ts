/** The OpenAI-compatible adapter: what it sends, and how it reads answers and stream events. */
import { describe, expect, it } from "vitest";
import type { Provider } from "../../src/config/providers.ts";
import { openAiCompatible as adapter } from "../../src/providers/openai-compatible/index.ts";

const provider: Provider = { id: "p", api: "openai-compatible", baseUrl: "https://llm.example/v1/", apiKey: "sk-x", configureWith: "X", configured: true };
const ask = { model: "auto", messages: [{ role: "user" as const, content: "hi" }] };

describe("the OpenAI-compatible adapter", () => {
  it("posts to {base}/chat/completions with the key as a bearer token", async () => {
    const call = await adapter.completionRequest(provider, { a: 1 }, true);
    expect(call).toEqual({
      url: "https://llm.example/v1/chat/completions",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: "Bearer sk-x" },
      body: '{"a":1}',
    });
    expect((await adapter.completionRequest({ ...provider, apiKey: undefined }, {}, false)).headers).not.toHaveProperty("authorization");
  });

  it("sends the provider's model id and the rest as the request has it, asking for usage on streams", () => {
    expect(adapter.body(ask, "vendor/m", { stream: false })).toEqual({ ...ask, model: "vendor/m" });
    expect(adapter.body({ ...ask, stream: true, max_tokens: 5 }, "m", { stream: true })).toEqual({
      ...ask,
      model: "m",
      stream: true,
      max_tokens: 5,
      stream_options: { include_usage: true },
    });
  });

  it("passes Anthropic's cache_control marks on to Anthropic's models only", () => {
    const marked = {
      model: "auto",
      messages: [
        { role: "system" as const, content: [{ type: "text" as const, text: "Long instructions", cache_control: { type: "ephemeral" as const } }] },
        { role: "user" as const, content: "hi" },
      ],
    };
    expect((adapter.body(marked, "anthropic/claude-sonnet-4", { stream: false }) as { messages: unknown }).messages).toEqual(marked.messages);
    expect((adapter.body(marked, "llama-3.1-8b-instant", { stream: false }) as { messages: unknown }).messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Long instructions" }] },
      { role: "user", content: "hi" },
    ]);
    // The client's request is left as it was (the next attempt may go to an Anthropic model).
    expect(marked.messages[0]!.content[0]).toHaveProperty("cache_control");
  });

  it("reads a JSON answer's usage and completeness, and says why a 200 is not an answer", () => {
    const answer = {
      choices: [{ index: 0, message: { role: "assistant", content: "x" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 1 },
    };
    expect(adapter.readCompletion(JSON.stringify(answer))).toEqual({ usage: { promptTokens: 3, completionTokens: 1 }, complete: true, outputChars: 1 });
    expect(adapter.readCompletion(JSON.stringify({ ...answer, choices: [{ index: 0, message: {}, finish_reason: null }] }))).toMatchObject({ complete: false });
    expect(adapter.readCompletion('{"choices":')).toEqual({ failure: "not_json" });
    expect(adapter.readCompletion('{"error":{"message":"no"}}')).toEqual({ failure: "error" });
    expect(adapter.readCompletion('{"choices":[]}')).toEqual({ failure: "no_choices" });
  });

  it("tells a stream's first event: a chunk, an error event, or neither", () => {
    expect(adapter.firstEvent('{"choices":[{"index":0,"delta":{"content":"a"}}]}')).toBe("chunk");
    expect(adapter.firstEvent('{"choices":[],"usage":{"prompt_tokens":1}}')).toBe("chunk");
    expect(adapter.firstEvent('{"error":{"message":"overloaded"}}')).toBe("error");
    expect(adapter.firstEvent("not json")).toBe("unreadable");
    expect(adapter.firstEvent('{"id":"x"}')).toBe("unreadable");
  });

  it("reads each later event's finish and usage, and marks the usage chunk the router asked for itself", () => {
    expect(adapter.readEvent('{"choices":[{"index":0,"delta":{"content":"abc"},"finish_reason":null}]}')).toEqual({
      finished: false,
      usage: undefined,
      usageOnly: false,
      outputChars: 3,
    });
    const toolCall = { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"q":1}' } }] } }] };
    expect(adapter.readEvent(JSON.stringify(toolCall)).outputChars).toBe(JSON.stringify('{"q":1}').length - 2);
    expect(adapter.readEvent('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')).toMatchObject({ finished: true });
    expect(adapter.readEvent('{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5}}')).toEqual({
      finished: false,
      usage: { promptTokens: 2, completionTokens: 5 },
      usageOnly: true,
      outputChars: 0,
    });
    expect(adapter.readEvent('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":5}}')).toMatchObject({
      finished: true,
      usageOnly: false,
    });
  });

  it("finds the provider's own words in an error body, or keeps the text", () => {
    expect(adapter.errorMessage('{"error":{"message":"context too long"}}')).toBe("context too long");
    expect(adapter.errorMessage('{"error":"bad"}')).toBe("bad");
    expect(adapter.errorMessage("Bad Gateway")).toBe("Bad Gateway");
  });
});
