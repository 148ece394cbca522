/**
 * Gemini on Google AI Studio and on Vertex AI through the router, with the official `openai`
 * and `@anthropic-ai/sdk` clients, against real Redis and Postgres and the fake's Google side
 * (scripts/local/fake-gemini.ts: Google's bodies, streams and errors, and a token endpoint
 * that verifies the service account's signed JWT): text, tools and a tool round trip, an
 * image, structured output, streamed and not; usage classes priced exactly; and each error
 * class driving the fallback it should.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { fakeServiceAccount, TOKEN_PATH } from "../../scripts/local/fake-google-token.ts";
import { fakeProviders, type Router, startRouter, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const GEMINI_KEY = "AIza-fake-gemini-key-0123456789";
const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const env = useFakeStack({
  providers: (fake) => {
    const base = fake.url.replace(/\/v1$/, "");
    return {
      ...fakeProviders(fake.url, GEMINI_KEY),
      GEMINI_BASE_URL: base,
      GEMINI_API_KEY: GEMINI_KEY,
      VERTEX_SERVICE_ACCOUNT_JSON: fakeServiceAccount(fake.url, "tiergate-e2e"),
      VERTEX_REGION: "europe-west4",
      VERTEX_BASE_URL: base,
    };
  },
  bindings: { BREAKER_FAILURES: "0" },
  behaviour: { requiredKey: GEMINI_KEY },
});
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(() => {
  openai = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: "unused", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: env.router.url, apiKey: "unused", maxRetries: 0 });
});

const weather: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer" } },
      required: ["city", "days"],
      additionalProperties: false,
    },
  },
};

/** The Gemini calls the fake saw (not the token exchanges, nor OpenRouter's). */
const geminiCalls = () => env.fake.seen.filter((seen) => /:(stream)?[gG]enerateContent/.test(seen.path));

const PROVIDERS = [
  {
    provider: "gemini",
    path: /^\/v1beta\/models\/gemini-3\.5-flash:generateContent$/,
    streamPath: /^\/v1beta\/models\/gemini-3\.5-flash:streamGenerateContent\?alt=sse$/,
  },
  {
    provider: "vertex",
    path: /^\/v1\/projects\/tiergate-e2e\/locations\/europe-west4\/publishers\/google\/models\/gemini-3\.5-flash:generateContent$/,
    streamPath: /^\/v1\/projects\/tiergate-e2e\/locations\/europe-west4\/publishers\/google\/models\/gemini-3\.5-flash:streamGenerateContent\?alt=sse$/,
  },
] as const;

for (const { provider, path, streamPath } of PROVIDERS) {
  const model = `${provider}/gemini-3.5-flash`;

  describe(`${provider}: the openai client`, () => {
    it("gets a text answer, with the system prompt as Gemini's systemInstruction and the call signed", async () => {
      const { data, response } = await openai.chat.completions
        .create({
          model,
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: uniquePrompt("hello") },
          ],
          max_tokens: 50,
          temperature: 0.2,
        })
        .withResponse();
      expect(response.headers.get("x-tiergate-provider")).toBe(provider);
      expect(data.choices[0]!.message.content).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
      expect(data.choices[0]!.finish_reason).toBe("stop");
      const [seen] = geminiCalls();
      expect(seen!.path).toMatch(path);
      expect(seen!.body).toMatchObject({ systemInstruction: { parts: [{ text: "Be brief." }] }, generationConfig: { maxOutputTokens: 50, temperature: 0.2 } });
      if (provider === "gemini") expect(seen!.headers["x-goog-api-key"]).toBe(GEMINI_KEY);
      else expect(seen!.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
      expect(data.usage?.completion_tokens).toBe(8);
    });

    it("streams the answer, ending with the finish reason and the usage asked for", async () => {
      const stream = await openai.chat.completions.create({
        model,
        messages: [{ role: "user", content: uniquePrompt("stream me") }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
      expect(finish).toBe("stop");
      expect(usage?.completion_tokens).toBe(8);
      expect(geminiCalls()[0]!.path).toMatch(streamPath);
    });

    it("makes a tool call and takes its result back, with Gemini's signature returned on the call", async () => {
      const ask = uniquePrompt("weather in Paris?");
      const first = await openai.chat.completions.create({ model, messages: [{ role: "user", content: ask }], tools: [weather], tool_choice: "required" });
      const call = first.choices[0]!.message.tool_calls![0]!;
      expect(first.choices[0]!.finish_reason).toBe("tool_calls");
      expect(call.type === "function" && call.function.name).toBe("get_weather");
      expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual({ city: "fake", days: 1 });
      expect(call.id).toMatch(/^call_/);
      const sent = geminiCalls()[0]!.body;
      expect(sent.tools).toEqual([
        { functionDeclarations: [{ name: "get_weather", description: "The weather in a city", parametersJsonSchema: weather.function.parameters }] },
      ]);
      expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY" } });

      const second = await openai.chat.completions.create({
        model,
        messages: [
          { role: "user", content: ask },
          first.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam,
          { role: "tool", tool_call_id: call.id, content: "18C and sunny" },
        ],
        tools: [weather],
      });
      expect(second.choices[0]!.message.content).toMatch(/^Fake/);
      const back = geminiCalls()[1]!.body.contents as { role: string; parts: Record<string, unknown>[] }[];
      expect(back.map((content) => content.role)).toEqual(["user", "model", "user"]);
      expect(back[1]!.parts[0]).toMatchObject({ functionCall: { name: "get_weather", args: { city: "fake", days: 1 } } });
      // The fake signs its calls; the signature went to the client and came back (the fake refuses a Gemini 3 call without one).
      expect(back[1]!.parts[0]!.thoughtSignature).toBe(Buffer.from("signed by the fake for gemini-3.5-flash").toString("base64"));
      expect(back[2]!.parts[0]).toEqual({ functionResponse: { name: "get_weather", response: { result: "18C and sunny" } } });
    });

    it("streams a tool call whole, which the SDK assembles", async () => {
      const final = await openai.chat.completions
        .stream({ model, messages: [{ role: "user", content: uniquePrompt("use the get_weather tool") }], tools: [weather] })
        .finalChatCompletion();
      const call = final.choices[0]!.message.tool_calls![0]!;
      expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual({ city: "fake", days: 1 });
      expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    });

    it("sends an image inline", async () => {
      const answer = await openai.chat.completions.create({
        model,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: uniquePrompt("what is this?") },
              { type: "image_url", image_url: { url: PNG } },
            ],
          },
        ],
      });
      expect(answer.choices[0]!.message.content).toMatch(/^Fake/);
      const parts = (geminiCalls()[0]!.body.contents as { parts: Record<string, unknown>[] }[])[0]!.parts;
      expect(parts[1]).toEqual({ inlineData: { mimeType: "image/png", data: PNG.slice("data:image/png;base64,".length) } });
    });

    it("refuses an image URL whose type it cannot tell, naming the field", async () => {
      const refused = await openai.chat.completions
        .create({ model, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/picture" } }] }] })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("messages[0].content[0].image_url.url");
      expect(geminiCalls()).toHaveLength(0);
    });

    it("answers structured output as Gemini's JSON schema mode, streamed and not", async () => {
      const City = z.object({ name: z.string(), population: z.number() });
      const parsed = await openai.chat.completions.parse({
        model,
        messages: [{ role: "user", content: uniquePrompt("a city") }],
        response_format: zodResponseFormat(City, "city"),
      });
      expect(parsed.choices[0]!.message.parsed).toEqual({ name: "fake", population: 1 });
      const config = geminiCalls()[0]!.body.generationConfig as Record<string, unknown>;
      expect(config.responseMimeType).toBe("application/json");
      expect(config.responseJsonSchema).toMatchObject({ type: "object", properties: { name: { type: "string" } } });
      const streamed = await openai.chat.completions
        .stream({ model, messages: [{ role: "user", content: uniquePrompt("a city") }], response_format: zodResponseFormat(City, "city") })
        .finalChatCompletion();
      expect(streamed.choices[0]!.message.parsed).toEqual({ name: "fake", population: 1 });
    });
  });

  describe(`${provider}: the @anthropic-ai/sdk client`, () => {
    const tool: Anthropic.Tool = {
      name: "get_weather",
      description: "The weather in a city",
      input_schema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city", "days"] },
    };

    it("gets a message, and a streamed one", async () => {
      const message = await anthropic.messages.create({ model, max_tokens: 100, messages: [{ role: "user", content: uniquePrompt("hello") }] });
      expect(message.content[0]).toMatchObject({ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" });
      expect(message.stop_reason).toBe("end_turn");
      const streamed = await anthropic.messages
        .stream({ model, max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: uniquePrompt("hello again") }] })
        .finalMessage();
      expect(streamed.content[0]).toMatchObject({ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" });
      expect(streamed.usage.output_tokens).toBe(8);
      expect(geminiCalls().map((seen) => seen.path)).toEqual([expect.stringMatching(path), expect.stringMatching(streamPath)]);
    });

    it("runs a tool round trip and sends an image", async () => {
      const ask: Anthropic.MessageParam = {
        role: "user",
        content: [
          { type: "text", text: uniquePrompt("weather where this photo was taken?") },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG.slice("data:image/png;base64,".length) } },
        ],
      };
      const first = await anthropic.messages.create({
        model,
        max_tokens: 200,
        messages: [ask],
        tools: [tool],
        tool_choice: { type: "tool", name: "get_weather" },
      });
      expect(first.stop_reason).toBe("tool_use");
      const use = first.content.find((block) => block.type === "tool_use")!;
      expect(use).toMatchObject({ name: "get_weather", input: { city: "fake", days: 1 } });
      const sent = geminiCalls()[0]!.body;
      expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } });
      expect((sent.contents as { parts: Record<string, unknown>[] }[])[0]!.parts[1]).toMatchObject({ inlineData: { mimeType: "image/png" } });

      const second = await anthropic.messages.create({
        model,
        max_tokens: 200,
        tools: [tool],
        messages: [
          ask,
          { role: "assistant", content: first.content },
          { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "18C" }] },
        ],
      });
      expect(second.stop_reason).toBe("end_turn");
      const back = geminiCalls()[1]!.body.contents as { role: string; parts: Record<string, unknown>[] }[];
      expect(back.at(-1)!.parts[0]).toEqual({ functionResponse: { name: "get_weather", response: { result: "18C" } } });
      // The Messages surface keeps no signature: the call goes back marked as one Gemini did not sign, which Gemini 3 takes.
      expect(back[1]!.parts.find((part) => part.functionCall !== undefined)!.thoughtSignature).toEqual(expect.any(String));
    });
  });
}

describe("Vertex's access token", () => {
  /** A router of its own (a new isolate, holding no token) whose Vertex signs with `keyFile`. */
  const vertexRouter = (keyFile: string) =>
    startRouter({ ...env.storage.bindings, BREAKER_FAILURES: "0", VERTEX_SERVICE_ACCOUNT_JSON: keyFile, VERTEX_BASE_URL: env.fake.url.replace(/\/v1$/, "") });
  const exchanges = () => env.fake.seen.filter((seen) => seen.path === TOKEN_PATH);
  const issuer = (seen: { body: Record<string, unknown> }) => JSON.parse(Buffer.from(String(seen.body.assertion).split(".")[1]!, "base64url").toString()).iss;

  it("is fetched once, with a JWT the token endpoint verified, for many concurrent calls", async () => {
    const keyFile = fakeServiceAccount(env.fake.url, "tiergate-e2e");
    const own = await vertexRouter(keyFile);
    try {
      const client = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          client.chat.completions.create({ model: "vertex/gemini-2.5-flash-lite", messages: [{ role: "user", content: uniquePrompt("t") }] }),
        ),
      );
      expect(answers.every((answer) => answer.choices[0]!.finish_reason === "stop")).toBe(true);
      expect(exchanges().map(issuer)).toEqual([JSON.parse(keyFile).client_email]);
      expect(geminiCalls()).toHaveLength(6);
    } finally {
      await own.close();
    }
  });

  it("is refused when the key does not match the account: the call fails as the router's credential, the key never shown", async () => {
    const keyFile = JSON.parse(fakeServiceAccount(env.fake.url, "tiergate-e2e")) as Record<string, string>;
    const impostor = JSON.parse(fakeServiceAccount(env.fake.url, "tiergate-e2e")) as Record<string, string>;
    const own = await vertexRouter(JSON.stringify({ ...keyFile, private_key: impostor.private_key }));
    try {
      const response = await own.post("/v1/chat/completions", { model: "vertex/gemini-3.5-flash", messages: [{ role: "user", content: uniquePrompt("t") }] });
      expect(response.status).toBe(502);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe("upstream_auth_failed");
      expect(error.message).toContain("could not get an access token");
      expect(error.message).not.toContain(impostor.private_key!.split("\n")[1]!);
      expect(geminiCalls()).toHaveLength(0);
    } finally {
      await own.close();
    }
  });
});

describe("money by usage class", () => {
  it("prices cache reads at the read price and thoughts at the output price, exactly", async () => {
    env.fake.behaviour.usage = {
      promptTokenCount: 10_000,
      cachedContentTokenCount: 4_000,
      candidatesTokenCount: 300,
      thoughtsTokenCount: 700,
      totalTokenCount: 11_000,
    };
    // A prompt long enough for the 10,000 tokens reported to be believed (the charge bounds a report by what was sent).
    const content = `${uniquePrompt("m")} ${"context ".repeat(2_000)}`;
    const { data, response } = await openai.chat.completions.create({ model: "gemini/gemini-3.5-flash", messages: [{ role: "user", content }] }).withResponse();
    // gemini-3.5-flash: $1.50 input, $0.15 cache read, $9 output per million: 6,000 × 1.5 + 4,000 × 0.15 + 1,000 × 9 = 18,600 µ$.
    expect(response.headers.get("x-tiergate-cost-usd")).toBe("0.01860000");
    expect(data.usage).toMatchObject({
      prompt_tokens: 10_000,
      completion_tokens: 1_000,
      prompt_tokens_details: { cached_tokens: 4_000 },
      completion_tokens_details: { reasoning_tokens: 700 },
    });
  });
});

describe("errors and fallbacks", () => {
  /** Tier 4 as Gemini, then Vertex, then OpenRouter's dearer model: the plan a tier-4 request follows in order. */
  const MODELS = [
    { id: "gemini/gemini-3.5-flash", provider: "gemini", upstream_model: "gemini-3.5-flash" },
    { id: "vertex/gemini-3.5-flash", provider: "vertex", upstream_model: "gemini-3.5-flash" },
    { id: "openrouter/openai/gpt-5.5", provider: "openrouter", upstream_model: "openai/gpt-5.5" },
  ].map((model) => ({ ...model, tier: 4, context_window: 1_000_000, capabilities: ["tools", "json", "vision", "streaming"] }));
  let tiered: Router;
  let client: OpenAI;
  beforeAll(async () => {
    const base = env.fake.url.replace(/\/v1$/, "");
    tiered = await startRouter({
      ...env.storage.bindings,
      ...fakeProviders(env.fake.url, GEMINI_KEY),
      BREAKER_FAILURES: "0",
      MODELS_JSON: JSON.stringify(MODELS),
      GEMINI_BASE_URL: base,
      GEMINI_API_KEY: GEMINI_KEY,
      VERTEX_SERVICE_ACCOUNT_JSON: fakeServiceAccount(env.fake.url, "tiergate-e2e"),
      VERTEX_BASE_URL: base,
    });
    client = new OpenAI({ baseURL: `${tiered.url}/v1`, apiKey: "unused", maxRetries: 0 });
  }, 60_000);
  afterAll(() => tiered?.close());
  const ask = () => client.chat.completions.create({ model: "tier:4", messages: [{ role: "user", content: uniquePrompt("e") }] }).withResponse();

  it("moves on from a 503 UNAVAILABLE to the next model", async () => {
    // Both Google providers serve gemini-3.5-flash: both are overloaded, OpenRouter answers.
    Object.assign(env.fake.behaviour, { errorStatus: 503, failModels: ["gemini-3.5-flash"] });
    const { response } = await ask();
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/openai/gpt-5.5");
    const attempts = response.headers.get("x-tiergate-attempts")!;
    expect(attempts).toMatch(/^gemini\/gemini-3\.5-flash upstream_overloaded /);
    expect(attempts).toMatch(/vertex\/gemini-3\.5-flash upstream_overloaded \d+ms, openrouter\/openai\/gpt-5\.5 ok \d+ms$/);
  });

  for (const [status, code] of [
    [500, "upstream_error"],
    [403, "upstream_auth_failed"],
    [401, "upstream_auth_failed"],
  ] as const) {
    it(`moves on from a ${status} as ${code}`, async () => {
      Object.assign(env.fake.behaviour, { errorStatus: status, failModels: ["gemini-3.5-flash"] });
      const { response } = await ask();
      expect(response.headers.get("x-tiergate-model")).toBe("openrouter/openai/gpt-5.5");
      expect(response.headers.get("x-tiergate-attempts")).toMatch(
        new RegExp(`^gemini/gemini-3\\.5-flash ${code} .*vertex/gemini-3\\.5-flash ${code} \\d+ms, openrouter`),
      );
    });
  }

  it("moves on from a key Google refuses (AI Studio's 400 API_KEY_INVALID) as the router's fault, not the client's", async () => {
    env.fake.behaviour.requiredKey = "another-key";
    const { response } = await ask();
    expect(response.headers.get("x-tiergate-attempts")).toMatch(/^gemini\/gemini-3\.5-flash upstream_auth_failed .*vertex\/gemini-3\.5-flash ok \d+ms$/);
    expect(response.headers.get("x-tiergate-provider")).toBe("vertex");
  });

  it("answers a prompt over the window 400 context_length_exceeded, trying no other model", async () => {
    Object.assign(env.fake.behaviour, {
      errorStatus: 400,
      errorMessage: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    });
    const refused = (await ask().catch((error: unknown) => error)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused.code).toBe("context_length_exceeded");
    expect(geminiCalls()).toHaveLength(1);
  });

  it("passes a rate limit on as a 429 once every model is limited", async () => {
    Object.assign(env.fake.behaviour, { errorStatus: 429, retryAfter: "0" });
    const limited = await ask().catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it("marks a stream that breaks off after its first event as incomplete", async () => {
    env.fake.behaviour.breakAfterChunks = 2;
    const stream = await openai.chat.completions.create({
      model: "gemini/gemini-3.5-flash",
      messages: [{ role: "user", content: uniquePrompt("b") }],
      stream: true,
    });
    const failure = await (async () => {
      for await (const _ of stream);
    })().catch((error: unknown) => error);
    expect(String(failure)).toContain("incomplete");
  });
});
