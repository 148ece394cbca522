/**
 * The AI SDK (`ai` with `@ai-sdk/openai`) through the router, with its default model
 * (`openai("auto")` speaks the Responses API): generateText, streamText, a tool the SDK
 * runs, generateObject, and embed / embedMany, against real Redis and Postgres and the
 * fake provider.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { embed, embedMany, generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { flushedRows, useClientStack } from "../support/clients.ts";
import { uniquePrompt } from "../support/router.ts";

const env = useClientStack();
let openai: ReturnType<typeof createOpenAI>;
beforeAll(() => {
  openai = createOpenAI({ baseURL: `${env.router.url}/v1`, apiKey: env.key });
});

describe("the AI SDK's default OpenAI model", () => {
  it("generateText answers through /v1/responses", async () => {
    const result = await generateText({ model: openai("auto"), system: "Be brief.", prompt: uniquePrompt("Say hi"), maxRetries: 0 });
    expect(result.text).toContain("Fake token1");
    expect(result.finishReason).toBe("stop");
    expect(result.usage.outputTokens).toBe(8);
    expect(result.response.headers?.["x-tiergate-model"]).toBeTruthy();
    const rows = await flushedRows(env.router, env.storage, env.keyId, 1);
    expect(rows.at(-1)).toMatchObject({ surface: "responses", http_status: 200 });
  });

  it("streamText streams the same words", async () => {
    const result = streamText({ model: openai("auto"), prompt: uniquePrompt("Stream a greeting"), maxRetries: 0 });
    const parts: string[] = [];
    for await (const part of result.textStream) parts.push(part);
    expect(parts.length).toBe(8);
    expect(await result.text).toBe(parts.join(""));
    expect(await result.finishReason).toBe("stop");
  });

  it("runs a tool the model calls, and finishes with its result", async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: openai("auto"),
      prompt: uniquePrompt("What is the weather in Paris?"),
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            seen.push(city);
            return { forecast: `Sunny in ${city}` };
          },
        }),
      },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    expect(seen).toEqual(["fake"]);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]!.toolCalls[0]).toMatchObject({ toolName: "get_weather", input: { city: "fake" } });
    expect(result.text).toContain("Fake");
    const last = env.fake.seen.at(-1)!.body.messages as { role: string; content?: string }[];
    expect(JSON.parse(last.at(-1)!.content!)).toEqual({ forecast: "Sunny in fake" });
  });

  it("generateObject returns an object of the schema", async () => {
    const { object } = await generateObject({
      model: openai("auto"),
      schema: z.object({ city: z.string(), population: z.number().int() }),
      prompt: uniquePrompt("Paris has two million people"),
      maxRetries: 0,
    });
    expect(object).toEqual({ city: "fake", population: 1 });
    expect(env.fake.seen[0]!.body.response_format).toMatchObject({ type: "json_schema" });
  });
});

describe("the AI SDK's embeddings", () => {
  it("embed and embedMany return the same vector for the same text, in order", async () => {
    const texts = [uniquePrompt("alpha"), uniquePrompt("beta"), uniquePrompt("gamma")];
    const model = openai.embedding("text-embedding-3-small");
    const many = await embedMany({ model, values: texts, maxRetries: 0 });
    expect(many.embeddings).toHaveLength(3);
    expect(many.embeddings[0]).toHaveLength(1536);
    expect(many.usage.tokens).toBeGreaterThan(0);
    const one = await embed({ model, value: texts[1]!, maxRetries: 0 });
    expect(one.embedding).toEqual(many.embeddings[1]);
    expect(one.embedding).not.toEqual(many.embeddings[0]);
    expect(env.fake.seen.map((seen) => seen.path)).toEqual(["/v1/embeddings", "/v1/embeddings"]);
  });
});
