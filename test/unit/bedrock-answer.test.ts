/** Bedrock's answers, streams, errors and signatures, as the router reads them. */
import { describe, expect, it } from "vitest";
import { FAKE_AWS, frame, verifySigV4 } from "../../scripts/local/fake-bedrock.ts";
import type { Provider } from "../../src/config/providers.ts";
import { bedrock } from "../../src/providers/bedrock/index.ts";
import { signedCall } from "../../src/providers/bedrock/signing.ts";
import { upstreamError } from "../../src/providers/upstream.ts";
import { readUsage } from "../../src/providers/usage.ts";
import { usageMicros } from "../../src/routing/cost.ts";
import { DEFAULT_MODELS } from "../../src/routing/registry.ts";

const MODEL = "global.anthropic.claude-sonnet-5-v1:0";
const answer = (content: unknown[], stopReason: string, usage: object = { inputTokens: 10, outputTokens: 3, totalTokens: 13 }) =>
  JSON.stringify({ output: { message: { role: "assistant", content } }, stopReason, usage, metrics: { latencyMs: 5 } });
const chat = (text: string) =>
  JSON.parse(bedrock.chatAnswer(text, MODEL)) as { choices: { message: Record<string, unknown>; finish_reason: string }[]; usage: Record<string, unknown> };

describe("a Converse answer as a chat completion", () => {
  it("carries text, tool calls and reasoning, and reads back through the OpenAI reader", () => {
    const text = bedrock.chatAnswer(
      answer(
        [
          { reasoningContent: { reasoningText: { text: "Think.", signature: "sig" } } },
          { text: "Let me look." },
          { toolUse: { toolUseId: "tooluse_9", name: "get_weather", input: { city: "Oslo" } } },
        ],
        "tool_use",
      ),
      MODEL,
    );
    const completion = JSON.parse(text);
    expect(completion).toMatchObject({ object: "chat.completion", model: MODEL, usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 } });
    expect(completion.choices[0]).toEqual({
      index: 0,
      finish_reason: "tool_calls",
      message: {
        role: "assistant",
        content: "Let me look.",
        reasoning: "Think.",
        tool_calls: [{ id: "tooluse_9", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      },
    });
    expect(bedrock.readCompletion(text)).toMatchObject({ complete: true, usage: { promptTokens: 10, completionTokens: 3 } });
  });

  it("maps each stop reason to its finish reason", () => {
    const finish = (reason: string) => chat(answer([{ text: "x" }], reason)).choices[0]!.finish_reason;
    expect(["end_turn", "stop_sequence", "max_tokens", "guardrail_intervened", "content_filtered"].map(finish)).toEqual([
      "stop",
      "stop",
      "length",
      "content_filter",
      "content_filter",
    ]);
  });

  it("gives the structured_output call back as the answer's text, stopped", () => {
    const completion = chat(answer([{ toolUse: { toolUseId: "t", name: "structured_output", input: { city: "Oslo" } } }], "tool_use"));
    expect(completion.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: '{"city":"Oslo"}' } });
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
  });

  it("leaves a body that is no Converse answer as it was, for the reader to refuse", () => {
    expect(bedrock.readCompletion(bedrock.chatAnswer('{"message":"odd"}', MODEL))).toEqual({ failure: "no_choices" });
    expect(bedrock.readCompletion(bedrock.chatAnswer('{"output":', MODEL))).toEqual({ failure: "not_json" });
  });

  it("counts inputTokens as the uncached rest of the prompt, and charges each class at Bedrock's price, to the micro-dollar", () => {
    const usage = chat(
      answer([{ text: "x" }], "end_turn", {
        inputTokens: 1_000,
        outputTokens: 500,
        cacheReadInputTokens: 20_000,
        cacheWriteInputTokens: 3_000,
        totalTokens: 24_500,
      }),
    ).usage;
    expect(usage).toEqual({
      prompt_tokens: 24_000,
      completion_tokens: 500,
      total_tokens: 24_500,
      prompt_tokens_details: { cached_tokens: 20_000, cache_write_tokens: 3_000 },
    });
    const read = readUsage(usage)!;
    expect(read).toMatchObject({ promptTokens: 24_000, cacheReadTokens: 20_000, cacheWriteTokens: 3_000, completionTokens: 500 });
    const sonnet = DEFAULT_MODELS.find((model) => model.id === "bedrock/claude-sonnet-5")!;
    // $2/M uncached, $0.20/M read, $2.50/M written, $10/M out: 1,000×2 + 20,000×0.2 + 3,000×2.5 + 500×10 = 18,500 µ$.
    expect(usageMicros(sonnet, read)).toBe(18_500);
  });

  it("splits the writes by lifetime where Bedrock's cacheDetails does, so each is charged its own price", () => {
    const usage = {
      inputTokens: 100,
      outputTokens: 10,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 3_000,
      cacheDetails: [
        { ttl: "1h", inputTokens: 2_000 },
        { ttl: "5m", inputTokens: 1_000 },
      ],
    };
    const text = bedrock.chatAnswer(answer([{ text: "x" }], "end_turn", usage), MODEL);
    const read = bedrock.readCompletion(text) as { usage: Record<string, unknown> };
    expect(read.usage).toEqual({ promptTokens: 3_100, completionTokens: 10, cacheWriteTokens: 1_000, cacheWrite1hTokens: 2_000 });
    const opus = DEFAULT_MODELS.find((model) => model.id === "bedrock/claude-opus-5.5")!;
    // $4/M uncached, $5/M a 5-minute write, $8/M an hour's, $20/M out: 400 + 5,000 + 16,000 + 200 µ$.
    expect(usageMicros(opus, read.usage as never)).toBe(21_600);
    // Writes all for 5 minutes, said so: no longer "unsplit", so a request that asked an hour elsewhere is not charged one.
    const fiveMinutes = bedrock.readCompletion(
      bedrock.chatAnswer(answer([{ text: "x" }], "end_turn", { ...usage, cacheDetails: [{ ttl: "5m", inputTokens: 3_000 }] }), MODEL),
    ) as { usage: Record<string, unknown> };
    expect(fiveMinutes.usage).toEqual({ promptTokens: 3_100, completionTokens: 10, cacheWriteTokens: 3_000 });
    // Without cacheDetails, the writes are one count, for as long as the request asked.
    const unsplit = bedrock.readCompletion(bedrock.chatAnswer(answer([{ text: "x" }], "end_turn", { ...usage, cacheDetails: undefined }), MODEL)) as {
      usage: Record<string, unknown>;
    };
    expect(unsplit.usage).toMatchObject({ cacheWriteTokens: 3_000, writesUnsplit: true });
  });
});

/** A stream of the given bytes, cut into chunks of `size` (frames split anywhere). */
function bytes(frames: Uint8Array[], size: number): ReadableStream<Uint8Array> {
  const all = Buffer.concat(frames);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < all.byteLength; at += size) controller.enqueue(new Uint8Array(all.subarray(at, at + size)));
      controller.close();
    },
  });
}

async function sse(frames: Uint8Array[], size = 7): Promise<string[]> {
  const text = await new Response(bedrock.chatStream(bytes(frames, size), MODEL)).text();
  return text
    .split("\n\n")
    .filter((event) => event !== "")
    .map((event) => event.replace(/^data: /, ""));
}

const started = frame("event", "messageStart", { role: "assistant", p: "abc" });
const stopped = (stopReason: string) => frame("event", "messageStop", { stopReason, p: "ab" });
const metadata = frame("event", "metadata", {
  usage: { inputTokens: 4, outputTokens: 2, cacheReadInputTokens: 100, totalTokens: 106 },
  metrics: { latencyMs: 1 },
});

describe("a ConverseStream as chat SSE", () => {
  it("joins frames split across chunks into text deltas, the finish reason, then usage and [DONE]", async () => {
    const events = await sse([
      started,
      frame("event", "contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hel" } }),
      frame("event", "contentBlockDelta", { contentBlockIndex: 0, delta: { text: "lo" } }),
      frame("event", "contentBlockStop", { contentBlockIndex: 0 }),
      stopped("end_turn"),
      metadata,
    ]);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hel" },
      { content: "lo" },
      {},
      null,
    ]);
    expect(chunks[3].choices[0].finish_reason).toBe("stop");
    expect(chunks[4].usage).toEqual({ prompt_tokens: 104, completion_tokens: 2, total_tokens: 106, prompt_tokens_details: { cached_tokens: 100 } });
    expect(bedrock.readEvent(events[4]!)).toMatchObject({ usageOnly: true, usage: { promptTokens: 104, cacheReadTokens: 100 } });
    expect(bedrock.firstEvent(events[0]!)).toBe("chunk");
  });

  it("reads the writes' split by lifetime from the usage chunk too", async () => {
    const usage = { inputTokens: 1, outputTokens: 1, cacheWriteInputTokens: 50, cacheDetails: [{ ttl: "1h", inputTokens: 50 }] };
    const events = await sse([started, stopped("end_turn"), frame("event", "metadata", { usage })]);
    expect(bedrock.readEvent(events[2]!).usage).toEqual({ promptTokens: 51, completionTokens: 1, cacheWrite1hTokens: 50 });
  });

  it("streams a tool call's input in pieces, and the structured answer's as text", async () => {
    const events = await sse(
      [
        started,
        frame("event", "contentBlockStart", { contentBlockIndex: 1, start: { toolUse: { toolUseId: "tooluse_1", name: "get_weather" } } }),
        frame("event", "contentBlockDelta", { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
        frame("event", "contentBlockDelta", { contentBlockIndex: 1, delta: { toolUse: { input: '"Oslo"}' } } }),
        stopped("tool_use"),
      ],
      1,
    );
    const deltas = events.slice(0, -1).map((event) => JSON.parse(event).choices[0]);
    expect(deltas[1].delta.tool_calls).toEqual([{ index: 0, id: "tooluse_1", type: "function", function: { name: "get_weather", arguments: "" } }]);
    expect(
      deltas
        .slice(2, 4)
        .map((choice) => choice.delta.tool_calls[0].function.arguments)
        .join(""),
    ).toBe('{"city":"Oslo"}');
    expect(deltas[4].finish_reason).toBe("tool_calls");

    const structured = await sse([
      started,
      frame("event", "contentBlockStart", { contentBlockIndex: 0, start: { toolUse: { toolUseId: "t", name: "structured_output" } } }),
      frame("event", "contentBlockDelta", { contentBlockIndex: 0, delta: { toolUse: { input: '{"a":1}' } } }),
      stopped("tool_use"),
    ]);
    expect(structured.slice(1, -1).map((event) => JSON.parse(event).choices[0])).toEqual([
      { index: 0, delta: { content: '{"a":1}' }, finish_reason: null },
      { index: 0, delta: {}, finish_reason: "stop" },
    ]);
  });

  it("turns an exception frame into an error event and ends without [DONE]", async () => {
    const events = await sse([started, frame("exception", "throttlingException", { message: "Too many requests, please wait before trying again." })]);
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[1]!)).toEqual({
      error: { message: "Too many requests, please wait before trying again.", type: "upstream_error", code: "throttlingException" },
    });
    expect(bedrock.firstEvent(events[1]!)).toBe("error");
  });

  it("fails on a frame whose CRC does not match, and on a stream cut inside a frame", async () => {
    const corrupt = metadata.slice();
    corrupt[corrupt.length - 6] = corrupt[corrupt.length - 6]! ^ 0x01;
    await expect(sse([started, corrupt])).rejects.toThrow(/checksum/);
    const badPrelude = started.slice();
    badPrelude[9] = badPrelude[9]! ^ 0x01;
    await expect(sse([badPrelude])).rejects.toThrow(/prelude checksum/);
    await expect(sse([started, metadata.subarray(0, 20)])).rejects.toThrow(/ended inside a frame/);
  });
});

describe("Bedrock's errors", () => {
  const provider = { id: "bedrock" } as Provider;
  const refusal = async (status: number, type: string | undefined, message: string) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (type !== undefined) headers["x-amzn-errortype"] = `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
    const error = await upstreamError({ provider, secrets: [] }, bedrock, new Response(JSON.stringify({ message }), { status, headers }));
    return [error.status, error.code];
  };

  it("reads the error type AWS names in x-amzn-ErrorType (or __type), each to what the router does with it", async () => {
    expect(await refusal(429, "ThrottlingException", "Too many requests")).toEqual([429, "upstream_rate_limited"]);
    expect(await refusal(400, "ServiceQuotaExceededException", "quota")).toEqual([429, "upstream_rate_limited"]);
    expect(await refusal(429, "ModelNotReadyException", "not ready")).toEqual([503, "upstream_overloaded"]);
    expect(await refusal(503, "ServiceUnavailableException", "busy")).toEqual([503, "upstream_overloaded"]);
    expect(await refusal(400, "ValidationException", "Input is too long for requested model.")).toEqual([400, "context_length_exceeded"]);
    expect(await refusal(400, "ValidationException", "temperature: range: 0..1")).toEqual([400, "upstream_invalid_request"]);
    for (const type of ["AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException"])
      expect(await refusal(403, type, "no")).toEqual([502, "upstream_auth_failed"]);
    // The account, not the client: a model it may not use, or one Bedrock does not know by that id.
    expect(await refusal(404, "ResourceNotFoundException", "Model use case details have not been submitted")).toEqual([502, "upstream_auth_failed"]);
    expect(await refusal(400, "ValidationException", "The provided model identifier is invalid.")).toEqual([502, "upstream_auth_failed"]);
    expect(await refusal(500, "InternalServerException", "oops")).toEqual([502, "upstream_error"]);
    expect(await refusal(408, "ModelTimeoutException", "slow")).toEqual([504, "upstream_timeout"]);
    expect(bedrock.errorKind?.(400, JSON.stringify({ __type: "com.amazon.coral.service#ThrottlingException", message: "x" }))).toBe("rate_limited");
  });

  it("says the provider's own words, from message or Message", () => {
    expect(bedrock.errorMessage('{"Message":"User: arn:aws:iam::1:user/x is not authorized"}')).toBe("User: arn:aws:iam::1:user/x is not authorized");
  });
});

describe("SigV4", () => {
  const credential = { ...FAKE_AWS, sessionToken: undefined };
  const call = async (secret = FAKE_AWS.secretAccessKey, sessionToken?: string) => {
    const url = `http://127.0.0.1:8787/model/${encodeURIComponent("us.anthropic.claude-sonnet-5-v1:0")}/converse`;
    return signedCall(
      { ...credential, secretAccessKey: secret, sessionToken },
      { method: "POST", url, headers: { "content-type": "application/json", accept: "application/json" }, body: '{"messages":[]}' },
    );
  };
  const verify = (signed: Awaited<ReturnType<typeof call>>, body = signed.body) => {
    const url = new URL(signed.url);
    return verifySigV4({ method: "POST", path: url.pathname, headers: { ...signed.headers, host: url.host }, body: Buffer.from(body) }, FAKE_AWS);
  };

  it("signs so that an independent SigV4 check accepts it, the model id encoded in the path", async () => {
    const signed = await call();
    expect(signed.url).toContain("/model/us.anthropic.claude-sonnet-5-v1%3A0/converse");
    expect(signed.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK00001\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=/);
    expect(verify(signed)).toEqual({ ok: true });
    const temporary = await call(FAKE_AWS.secretAccessKey, "session-token-0123");
    expect(temporary.headers["x-amz-security-token"]).toBe("session-token-0123");
    expect(verify(temporary)).toEqual({ ok: true });
  });

  it("is refused with Bedrock's 403 when the body is tampered with or the secret is wrong", async () => {
    const signed = await call();
    expect(verify(signed, '{"messages":[1]}')).toMatchObject({ ok: false, status: 403, type: "InvalidSignatureException" });
    expect(verify(await call("not-the-secret-0123456789"))).toMatchObject({ ok: false, status: 403, type: "InvalidSignatureException" });
    const url = new URL(signed.url);
    const otherKey = verifySigV4(
      { method: "POST", path: url.pathname, headers: { ...signed.headers, host: url.host }, body: Buffer.from(signed.body) },
      {
        ...FAKE_AWS,
        accessKeyId: "AKIAOTHER",
      },
    );
    expect(otherKey).toMatchObject({ ok: false, type: "UnrecognizedClientException" });
  });
});
