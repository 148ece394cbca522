/**
 * Tool calls, JSON mode and structured output through the router with the official
 * `openai` client, streamed and not, and replayed from the cache; model lookup by id.
 */
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { startWithFakeProvider, uniquePrompt } from "../support/router.ts";

let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let client: OpenAI;

beforeAll(async () => {
  stack = await startWithFakeProvider();
  fake = stack.fake;
  client = new OpenAI({ baseURL: `${stack.router.url}/v1`, apiKey: "unused-by-the-router-yet", maxRetries: 0 });
});
afterAll(() => stack.close());
beforeEach(() => stack.reset());

const weatherTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] }, days: { type: "integer" } },
      required: ["location", "unit", "days"],
    },
  },
};
const expectedArguments = { location: "fake", unit: "celsius", days: 1 };

describe("tool calls", () => {
  it("come back whole from a JSON answer, and again from the cache", async () => {
    const body = { model: "tier:3", messages: [{ role: "user" as const, content: uniquePrompt("weather in Paris?") }], tools: [weatherTool] };
    const first = await client.chat.completions.create(body).withResponse();
    const call = first.data.choices[0]!.message.tool_calls![0]!;
    expect(first.data.choices[0]!.finish_reason).toBe("tool_calls");
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual(expectedArguments);
    const again = await client.chat.completions.create(body).withResponse();
    expect(again.response.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(again.data.choices[0]!.message.tool_calls).toEqual(first.data.choices[0]!.message.tool_calls);
  });

  it("stream with the arguments split across chunks, assemble in the SDK, and replay from the cache", async () => {
    const body = { model: "tier:3", messages: [{ role: "user" as const, content: uniquePrompt("weather in Oslo?") }], tools: [weatherTool] };
    const raw = await client.chat.completions.create({ ...body, stream: true });
    let argumentChunks = 0;
    for await (const chunk of raw) if (chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments) argumentChunks += 1;
    expect(argumentChunks).toBeGreaterThan(2);

    const assembled = await client.chat.completions.stream(body).finalChatCompletion();
    const call = assembled.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual(expectedArguments);
    const seen = fake.seen.length;
    const replayed = await client.chat.completions.stream(body).finalChatCompletion();
    expect(fake.seen.length).toBe(seen); // served from the cache, not the provider
    expect(replayed.choices[0]!.message.tool_calls).toEqual(assembled.choices[0]!.message.tool_calls);
  });
});

describe("JSON mode and structured output", () => {
  const Person = z.object({ name: z.string(), age: z.number(), tags: z.array(z.string()) });

  it("parses structured output against the schema, and again from the cache", async () => {
    const body = {
      model: "tier:2",
      messages: [{ role: "user" as const, content: uniquePrompt("Describe a person") }],
      response_format: zodResponseFormat(Person, "person"),
    };
    const first = await client.chat.completions.parse(body);
    expect(first.choices[0]!.message.parsed).toEqual({ name: "fake", age: 1, tags: ["fake"] });
    const seen = fake.seen.length;
    const again = await client.chat.completions.parse(body);
    expect(fake.seen.length).toBe(seen);
    expect(again.choices[0]!.message.parsed).toEqual(first.choices[0]!.message.parsed);
  });

  it("streams JSON mode whose pieces join into valid JSON, and replays it from the cache", async () => {
    const body = {
      model: "tier:2",
      messages: [{ role: "user" as const, content: uniquePrompt("Answer in JSON") }],
      response_format: { type: "json_object" as const },
    };
    const streamed = await client.chat.completions.stream(body).finalChatCompletion();
    const content = streamed.choices[0]!.message.content!;
    expect(JSON.parse(content)).toHaveProperty("answer");
    const seen = fake.seen.length;
    const replayed = await client.chat.completions.stream(body).finalChatCompletion();
    expect(fake.seen.length).toBe(seen);
    expect(replayed.choices[0]!.message.content).toBe(content);
  });

  it("answers JSON mode whose instruction writes out the schema (instructor's JSON mode) with an object that fits it, at tier 1-2", async () => {
    const schema = { properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], title: "User", type: "object" };
    const system = `As a genius expert, provide the parsed objects in json that match the following json_schema:\n\n${JSON.stringify(schema, null, 2)}\n\nReturn an instance of the JSON, not the schema itself`;
    const response = await client.chat.completions
      .create({
        model: "auto",
        response_format: { type: "json_object" },
        messages: [
          { role: "system", content: system },
          { role: "user", content: uniquePrompt("Bob is 30") },
        ],
      })
      .withResponse();
    expect(JSON.parse(response.data.choices[0]!.message.content!)).toEqual({ name: "fake", age: 1 });
    expect(Number(response.response.headers.get("x-tiergate-tier"))).toBeLessThanOrEqual(2);
  });
});

describe("models by id", () => {
  it("retrieves a model whose id holds slashes, encoded or not", async () => {
    const model = await client.models.retrieve("openrouter/mistralai/mistral-nemo");
    expect(model).toMatchObject({ id: "openrouter/mistralai/mistral-nemo", object: "model", owned_by: "openrouter" });
    const plain = await stack.router.fetch("/v1/models/openrouter/mistralai/mistral-nemo");
    const encoded = await stack.router.fetch("/v1/models/openrouter%2Fmistralai%2Fmistral-nemo");
    expect((await plain.json()).id).toBe(model.id);
    expect((await encoded.json()).id).toBe(model.id);
    const missing = await stack.router.fetch("/v1/models/nobody/nothing");
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe("model_not_found");
    await expect(client.models.retrieve("nobody/nothing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("accepts the provider's own id, which answers carry, as the model's alias", async () => {
    const first = await client.chat.completions.create({ model: "openrouter/mistralai/mistral-nemo", messages: [{ role: "user", content: uniquePrompt() }] });
    expect(first.model).toBe("mistralai/mistral-nemo");
    const second = await client.chat.completions.create({ model: first.model, messages: [{ role: "user", content: uniquePrompt() }] }).withResponse();
    expect(second.response.headers.get("x-tiergate-model")).toBe("openrouter/mistralai/mistral-nemo");
    expect((await client.models.retrieve(first.model)).id).toBe("openrouter/mistralai/mistral-nemo");
  });
});
