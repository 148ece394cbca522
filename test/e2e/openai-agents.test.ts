/**
 * The OpenAI Agents SDK (`@openai/agents`) through the router, run the default way: the
 * SDK's default model name (mapped to `auto` by the alias map, as docs/responses.md says)
 * over the Responses API, against real Redis and Postgres and the fake provider. A
 * one-turn agent, one that calls a function tool and finishes, a typed `outputType`, and a
 * streamed run.
 */
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool } from "@openai/agents";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { flushedRows, useClientStack } from "../support/clients.ts";
import { uniquePrompt } from "../support/router.ts";

const env = useClientStack({ bindings: { MODEL_ALIASES: JSON.stringify({ "gpt-5*": "auto" }) } });
beforeAll(() => {
  // Traces would go to OpenAI's own endpoint, which no gateway user wants their prompts sent to.
  setTracingDisabled(true);
  setDefaultOpenAIClient(new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: env.key, maxRetries: 0 }));
});

describe("an agent run the default way", () => {
  it("answers a one-turn agent through /v1/responses", async () => {
    const agent = new Agent({ name: "Greeter", instructions: "Be brief." });
    const result = await run(agent, uniquePrompt("Say hi"));
    expect(result.finalOutput).toContain("Fake token1");
    expect(env.fake.seen).toHaveLength(1);
    expect((env.fake.seen[0]!.body.messages as unknown[])[0]).toEqual({ role: "system", content: "Be brief." });
    const rows = await flushedRows(env.router, env.storage, env.keyId, 1);
    expect(rows.at(-1)).toMatchObject({ surface: "responses", http_status: 200, constitutional_hash: "cdd01ef066bc6cf2" });
  });

  it("calls a function tool, hands its output back, and finishes", async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: "get_weather",
      description: "The weather in a city",
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `Sunny in ${city}`;
      },
    });
    const agent = new Agent({ name: "Forecaster", instructions: "Use your tools.", tools: [getWeather] });
    const result = await run(agent, uniquePrompt("What is the weather in Paris?"));
    expect(calls).toEqual(["fake"]);
    expect(result.finalOutput).toContain("Fake");
    expect(env.fake.seen).toHaveLength(2);
    const second = env.fake.seen[1]!.body.messages as { role: string; content?: unknown }[];
    expect(second.at(-1)).toMatchObject({ role: "tool", content: "Sunny in fake" });
  });

  it("returns a typed outputType, sent as a JSON schema", async () => {
    const agent = new Agent({
      name: "Extractor",
      instructions: "Extract the city.",
      outputType: z.object({ city: z.string(), population: z.number() }),
    });
    const result = await run(agent, uniquePrompt("Paris has two million people"));
    expect(result.finalOutput).toEqual({ city: "fake", population: 1 });
    expect(env.fake.seen[0]!.body.response_format).toMatchObject({ type: "json_schema" });
  });

  it("streams a run: text deltas as they come, the same final output", async () => {
    const agent = new Agent({ name: "Streamer", instructions: "Be brief." });
    const result = await run(agent, uniquePrompt("Stream hello"), { stream: true });
    const deltas: string[] = [];
    for await (const event of result) {
      if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") deltas.push(event.data.delta);
    }
    await result.completed;
    expect(deltas.length).toBe(8);
    expect(result.finalOutput).toBe(deltas.join(""));
    expect(env.fake.seen[0]!.body.stream).toBe(true);
  });
});
