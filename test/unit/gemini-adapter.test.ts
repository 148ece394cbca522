/** The Gemini adapter: the body it sends, how it reads answers, streams, usage and errors into OpenAI's chat format. */
import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import type { Provider } from "../../src/config/providers.ts";
import type { ApiError } from "../../src/http/errors.ts";
import { gemini } from "../../src/providers/gemini/index.ts";
import { geminiRequest, UNSIGNED_CALL } from "../../src/providers/gemini/request.ts";
import { upstreamError } from "../../src/providers/upstream.ts";
import { usageMicros } from "../../src/routing/cost.ts";
import { DEFAULT_MODELS } from "../../src/routing/registry.ts";

const provider: Provider = {
  id: "gemini",
  api: "gemini",
  baseUrl: "https://generativelanguage.googleapis.com/",
  apiKey: "AIza-key",
  configureWith: "GEMINI_API_KEY",
  configured: true,
};
const ask = (extra: Partial<CanonicalRequest> = {}): CanonicalRequest => ({ model: "auto", messages: [{ role: "user", content: "hi" }], ...extra });

describe("the call", () => {
  it("posts to generateContent, or streamGenerateContent as SSE, with the key in x-goog-api-key", async () => {
    const body = gemini.body(ask(), "gemini-3.5-flash", { stream: false });
    expect(await gemini.completionRequest(provider, body, false)).toEqual({
      url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.5-flash:generateContent",
      headers: { "content-type": "application/json", accept: "application/json", "x-goog-api-key": "AIza-key" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    expect((await gemini.completionRequest(provider, body, true)).url).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse",
    );
  });

  it("probes the model list, or one token of the model", async () => {
    expect(await gemini.probeRequest(provider, "models", "gemini-3.5-flash")).toEqual({
      url: "https://generativelanguage.googleapis.com/v1beta/models",
      init: { headers: { accept: "application/json", "x-goog-api-key": "AIza-key" } },
    });
    const probe = await gemini.probeRequest(provider, "completion", "gemini-3.5-flash");
    expect(probe.url).toBe("https://generativelanguage.googleapis.com/v1beta/models/gemini-3.5-flash:generateContent");
    expect(JSON.parse(String(probe.init.body))).toMatchObject({ generationConfig: { maxOutputTokens: 1 } });
  });
});

describe("the body", () => {
  it("makes the system and developer messages the system instruction, and joins turns of one role", () => {
    const body = geminiRequest(
      ask({
        messages: [
          { role: "system", content: "Rule one." },
          { role: "developer", content: [{ type: "text", text: "Rule two." }] },
          { role: "user", content: "a" },
          { role: "user", content: "b" },
          { role: "assistant", content: "c" },
        ],
      }),
    );
    expect(body.systemInstruction).toEqual({ parts: [{ text: "Rule one.\n\nRule two." }] });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "a" }, { text: "b" }] },
      { role: "model", parts: [{ text: "c" }] },
    ]);
  });

  it("sends tool calls as functionCall parts (signed as Gemini signed them, or marked unsigned) and results as functionResponse", () => {
    const body = geminiRequest(
      ask({
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: "call_1",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
                extra_content: { google: { thought_signature: "c2ln" } },
              },
              { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "3C" },
          { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "noon" }] },
        ],
      }),
    );
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "weather?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "c2ln" },
          { functionCall: { name: "get_time", args: {} }, thoughtSignature: UNSIGNED_CALL },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { result: "3C" } } },
          { functionResponse: { name: "get_time", response: { result: "noon" } } },
        ],
      },
    ]);
  });

  it("refuses what Gemini cannot take, naming the field", () => {
    const refusal = (request: CanonicalRequest): ApiError => {
      try {
        geminiRequest(request);
      } catch (error) {
        return error as ApiError;
      }
      throw new Error("not refused");
    };
    const badArguments = refusal(
      ask({
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1]" } }] },
        ],
      }),
    );
    expect(badArguments).toMatchObject({ status: 400, param: "messages[1].tool_calls[0].function.arguments" });
    expect(
      refusal(
        ask({
          messages: [
            { role: "user", content: "x" },
            { role: "tool", tool_call_id: "nowhere", content: "r" },
          ],
        }),
      ),
    ).toMatchObject({
      status: 400,
      param: "messages[1].tool_call_id",
    });
    const image = refusal(ask({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/image" } }] }] }));
    expect(image).toMatchObject({ status: 400, param: "messages[0].content[0].image_url.url" });
    expect(image.message).toContain("data: URL");
  });

  it("sends images inline from a data: URL, and as a file Gemini fetches from a URL whose type it can tell", () => {
    const body = geminiRequest(
      ask({
        messages: [
          {
            role: "user",
            content: [
              { type: "image_url", image_url: { url: "data:image/webp;base64,UklGRg==" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.JPG?size=2" } },
              { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } },
            ],
          },
        ],
      }),
    );
    expect((body.contents as { parts: unknown[] }[])[0]!.parts).toEqual([
      { inlineData: { mimeType: "image/webp", data: "UklGRg==" } },
      { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/cat.JPG?size=2" } },
      { inlineData: { mimeType: "audio/wav", data: "AAAA" } },
    ]);
  });

  it("declares tools with their JSON schema, and maps each tool choice", () => {
    const tools = [{ type: "function" as const, function: { name: "f", description: "F", parameters: { type: "object", additionalProperties: false } } }];
    expect(geminiRequest(ask({ tools })).tools).toEqual([
      { functionDeclarations: [{ name: "f", description: "F", parametersJsonSchema: { type: "object", additionalProperties: false } }] },
    ]);
    const mode = (tool_choice: CanonicalRequest["tool_choice"]) => geminiRequest(ask({ tools, tool_choice })).toolConfig;
    expect(mode("none")).toEqual({ functionCallingConfig: { mode: "NONE" } });
    expect(mode("auto")).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(mode("required")).toEqual({ functionCallingConfig: { mode: "ANY" } });
    expect(mode({ type: "function", function: { name: "f" } })).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f"] } });
    expect(geminiRequest(ask({ tool_choice: "none" }))).not.toHaveProperty("toolConfig");
  });

  it("puts the sampling fields and the response format in generationConfig", () => {
    const schema = { type: "object", properties: { a: { type: "string" } } };
    const body = geminiRequest(
      ask({
        max_tokens: 10,
        max_completion_tokens: 20,
        temperature: 0.5,
        top_p: 0.9,
        stop: "END",
        n: 2,
        seed: 7,
        presence_penalty: 0.1,
        frequency_penalty: 0.2,
        response_format: { type: "json_schema", json_schema: { name: "x", schema } },
      }),
    );
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 20,
      temperature: 0.5,
      topP: 0.9,
      stopSequences: ["END"],
      candidateCount: 2,
      seed: 7,
      presencePenalty: 0.1,
      frequencyPenalty: 0.2,
      responseMimeType: "application/json",
      responseJsonSchema: schema,
    });
    expect(geminiRequest(ask({ response_format: { type: "json_object" } })).generationConfig).toEqual({ responseMimeType: "application/json" });
    expect(geminiRequest(ask())).not.toHaveProperty("generationConfig");
  });
});

describe("the answer", () => {
  const usageMetadata = { promptTokenCount: 5000, cachedContentTokenCount: 4096, candidatesTokenCount: 30, thoughtsTokenCount: 70, totalTokenCount: 5100 };
  const read = (answer: unknown) => JSON.parse(gemini.chatAnswer(JSON.stringify(answer), "gemini-3.5-flash"));

  it("reads text, thoughts and calls into one message, with OpenAI's finish reason and usage classes", () => {
    const completion = read({
      candidates: [
        {
          content: {
            role: "model",
            parts: [
              { text: "Let me think.", thought: true },
              { text: "Calling." },
              { functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "c2ln" },
            ],
          },
          finishReason: "STOP",
          index: 0,
        },
      ],
      usageMetadata,
      responseId: "abc",
    });
    expect(completion).toMatchObject({ id: "chatcmpl-abc", object: "chat.completion", model: "gemini-3.5-flash" });
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: {
          role: "assistant",
          content: "Calling.",
          reasoning: "Let me think.",
          tool_calls: [
            {
              id: expect.stringMatching(/^call_[0-9a-f]{24}$/),
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
              extra_content: { google: { thought_signature: "c2ln" } },
            },
          ],
        },
        finish_reason: "tool_calls",
      },
    ]);
    expect(completion.usage).toEqual({
      prompt_tokens: 5000,
      completion_tokens: 100,
      total_tokens: 5100,
      prompt_tokens_details: { cached_tokens: 4096 },
      completion_tokens_details: { reasoning_tokens: 70 },
    });
    expect(gemini.readCompletion(JSON.stringify(completion))).toEqual({
      usage: { promptTokens: 5000, completionTokens: 100, cacheReadTokens: 4096, reasoningTokens: 70 },
      complete: true,
      outputChars: expect.any(Number),
    });
  });

  it("maps each finish reason, and a blocked prompt to content_filter", () => {
    const finish = (finishReason: string) => read({ candidates: [{ content: { parts: [{ text: "x" }] }, finishReason }] }).choices[0].finish_reason;
    expect(finish("STOP")).toBe("stop");
    expect(finish("MAX_TOKENS")).toBe("length");
    for (const filtered of ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT"]) expect(finish(filtered)).toBe("content_filter");
    expect(read({ candidates: [{ content: { parts: [{ text: "x" }] } }] }).choices[0].finish_reason).toBeNull();
    const blocked = read({ promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 9 } });
    expect(blocked.choices).toEqual([{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "content_filter" }]);
  });

  it("leaves what is not an answer for the reader to refuse", () => {
    expect(gemini.readCompletion(gemini.chatAnswer("{not json", "m"))).toEqual({ failure: "not_json" });
    expect(gemini.readCompletion(gemini.chatAnswer('{"error":{"code":500,"message":"x","status":"INTERNAL"}}', "m"))).toEqual({ failure: "error" });
    expect(gemini.readCompletion(gemini.chatAnswer('{"candidates":[]}', "m"))).toEqual({ failure: "no_choices" });
  });

  it("prices each usage class exactly: cache reads at the read price, thoughts at the output price, a long prompt at the price above", () => {
    const pro = DEFAULT_MODELS.find((model) => model.id === "vertex/gemini-3.1-pro-preview")!;
    const answer = JSON.stringify({ candidates: [{ content: { parts: [{ text: "x" }] }, finishReason: "STOP" }], usageMetadata });
    const usage = gemini.readCompletion(gemini.chatAnswer(answer, "gemini-3.1-pro-preview")) as {
      usage: Parameters<typeof usageMicros>[1];
    };
    // $2 input, $0.20 cache read, $12 output per million: 904 × 2 + 4096 × 0.2 + 100 × 12 = 3,827.2 µ$, rounded up.
    expect(usageMicros(pro, usage.usage)).toBe(3_828);
    // Above 200,000 prompt tokens the whole request is at $4 / $0.40 / $18.
    const long = { promptTokens: 300_000, completionTokens: 1_000, cacheReadTokens: 100_000, reasoningTokens: 400 };
    expect(usageMicros(pro, long)).toBe(858_000);
  });
});

describe("the stream", () => {
  const sse = (...events: unknown[]): ReadableStream<Uint8Array> => {
    const text = events.map((event) => `data: ${typeof event === "string" ? event : JSON.stringify(event)}\r\n\r\n`).join("");
    // Split mid-event, as the network does.
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 37) controller.enqueue(bytes.slice(i, i + 37));
        controller.close();
      },
    });
  };
  const chunks = async (stream: ReadableStream<Uint8Array>): Promise<string[]> => {
    const text = await new Response(gemini.chatStream(stream, "gemini-3.5-flash")).text();
    return text
      .split("\n\n")
      .filter((event) => event !== "")
      .map((event) => event.replace(/^data: /, ""));
  };

  it("turns each event into chunks: the role first, text and thoughts as they come, the finish, then usage and [DONE]", async () => {
    const out = await chunks(
      sse(
        {
          candidates: [{ content: { role: "model", parts: [{ text: "Hmm.", thought: true }] }, index: 0 }],
          usageMetadata: { promptTokenCount: 10 },
          responseId: "r1",
        },
        {
          candidates: [{ content: { role: "model", parts: [{ text: "Hello" }] }, index: 0 }],
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1 },
          responseId: "r1",
        },
        {
          candidates: [{ content: { role: "model", parts: [{ text: " there" }] }, finishReason: "STOP", index: 0 }],
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, thoughtsTokenCount: 3 },
          responseId: "r1",
        },
      ),
    );
    expect(out.at(-1)).toBe("[DONE]");
    const parsed = out.slice(0, -1).map((chunk) => JSON.parse(chunk));
    expect(parsed.map((chunk) => chunk.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", reasoning: "Hmm." },
      { content: "Hello" },
      { content: " there" },
      {},
      null,
    ]);
    expect(parsed[3].choices[0].finish_reason).toBe("stop");
    expect(parsed[4]).toMatchObject({
      id: "chatcmpl-r1",
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 3 } },
    });
    expect(gemini.readEvent(out[4]!)).toMatchObject({ usage: { promptTokens: 10, completionTokens: 5, reasoningTokens: 3 }, usageOnly: true });
    expect(gemini.readEvent(out[3]!).finished).toBe(true);
    expect(gemini.firstEvent(out[0]!)).toBe("chunk");
  });

  it("numbers a candidate's calls across events, and finishes them as tool_calls", async () => {
    const call = (name: string) => ({ functionCall: { name, args: {} } });
    const out = await chunks(
      sse(
        { candidates: [{ content: { parts: [call("a")] }, index: 0 }] },
        { candidates: [{ content: { parts: [call("b")] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2 } },
      ),
    );
    const parsed = out.slice(0, -1).map((chunk) => JSON.parse(chunk));
    expect(parsed[0].choices[0].delta.tool_calls).toEqual([
      { index: 0, id: expect.stringMatching(/^call_/), type: "function", function: { name: "a", arguments: "{}" } },
    ]);
    expect(parsed[1].choices[0].delta.tool_calls[0]).toMatchObject({ index: 1, function: { name: "b" } });
    expect(parsed[2].choices[0].finish_reason).toBe("tool_calls");
  });

  it("sends no [DONE] for a stream that ends before a finish, and an error event in OpenAI's shape", async () => {
    const cut = await chunks(sse({ candidates: [{ content: { parts: [{ text: "par" }] }, index: 0 }] }));
    expect(cut).toHaveLength(1);
    expect(cut).not.toContain("[DONE]");
    const failed = await chunks(sse({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }));
    expect(JSON.parse(failed[0]!)).toEqual({ error: { message: "The model is overloaded.", type: "upstream_error", param: null, code: "UNAVAILABLE" } });
    expect(gemini.firstEvent(failed[0]!)).toBe("error");
  });

  it("ends a blocked prompt's stream with content_filter", async () => {
    const out = await chunks(sse({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 4 } }));
    expect(JSON.parse(out[0]!).choices[0].finish_reason).toBe("content_filter");
    expect(out.at(-1)).toBe("[DONE]");
  });
});

describe("errors", () => {
  const google = (code: number, status: string, message = "x", details?: unknown[]) =>
    JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });

  it("reads Google's statuses into the router's kinds", () => {
    expect(
      gemini.errorKind!(400, google(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).")),
    ).toBe("context_too_long");
    expect(gemini.errorKind!(400, google(400, "INVALID_ARGUMENT", 'Unknown name "foo"'))).toBeUndefined();
    expect(gemini.errorKind!(400, google(400, "INVALID_ARGUMENT", "API key not valid.", [{ reason: "API_KEY_INVALID" }]))).toBe("auth_failed");
    expect(gemini.errorKind!(401, google(401, "UNAUTHENTICATED"))).toBe("auth_failed");
    expect(gemini.errorKind!(403, google(403, "PERMISSION_DENIED"))).toBe("auth_failed");
    expect(gemini.errorKind!(429, google(429, "RESOURCE_EXHAUSTED"))).toBe("rate_limited");
    expect(gemini.errorKind!(503, google(503, "UNAVAILABLE"))).toBe("overloaded");
    expect(gemini.errorKind!(500, google(500, "INTERNAL"))).toBeUndefined();
    // Vertex's stream endpoints answer an error in a one-element array.
    expect(gemini.errorKind!(400, `[${google(400, "INVALID_ARGUMENT", "input token count exceeds")}]`)).toBe("context_too_long");
  });

  it("carries Google's RetryInfo as the router's Retry-After, which Google sends in no header", async () => {
    const retryInfo = { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "12.3s" };
    const body = google(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure" }, retryInfo]);
    expect(gemini.retryAfter?.(body)).toBe("13");
    expect(gemini.retryAfter?.(google(429, "RESOURCE_EXHAUSTED"))).toBeUndefined();
    const provider = { id: "gemini", api: "gemini", baseUrl: "https://g", apiKey: "k", configureWith: "GEMINI_API_KEY", configured: true } as Provider;
    const refused = await upstreamError({ provider, secrets: [] }, gemini, new Response(body, { status: 429 }));
    expect(refused).toMatchObject({ status: 429, code: "upstream_rate_limited", headers: { "retry-after": "13" } });
  });

  it("takes Google's own message from either form", () => {
    expect(gemini.errorMessage(google(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))).toBe("Quota exceeded");
    expect(gemini.errorMessage(`[${google(404, "NOT_FOUND", "no such model")}]`)).toBe("no such model");
    expect(gemini.errorMessage("Bad Gateway")).toBe("Bad Gateway");
  });
});
