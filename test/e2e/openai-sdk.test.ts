/** The official `openai` client talking to the router in workerd, the router talking to the fake provider. */
import OpenAI from "openai";
import { Stream } from "openai/streaming";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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

describe("the openai SDK as the client", () => {
  it("chats, and can read the routing headers", async () => {
    fake.behaviour.completionTokens = 4;
    const { data, response } = await client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "Say hello" }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe("Fake token1 token2 token3");
    expect(data.usage?.completion_tokens).toBe(4);
    expect(response.headers.get("x-tiergate-tier")).toMatch(/^[1-5]$/);
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
  });

  it("streams, with usage when it asks for it", async () => {
    fake.behaviour.completionTokens = 6;
    const stream = await client.chat.completions.create({
      model: "tier:3",
      messages: [{ role: "user", content: "Count to six" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Fake token1 token2 token3 token4 token5");
    expect(usage?.completion_tokens).toBe(6);
  });

  it("streams without the usage chunk when it does not ask", async () => {
    const stream = await client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: uniquePrompt() }], stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((chunk) => chunk.choices.length === 1)).toBe(true);
  });

  it("surfaces bad input as the SDK's typed BadRequestError with the param", async () => {
    const error = await client.chat.completions
      .create({ model: "auto", messages: [{ role: "user", content: uniquePrompt() }], temperature: 5 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");
  });

  it("surfaces an unknown model as NotFoundError and a provider outage as InternalServerError", async () => {
    await expect(client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: uniquePrompt() }] })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    fake.behaviour.errorStatus = 500;
    await expect(client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: uniquePrompt() }] })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
  });

  it("raises an APIError when the provider's stream breaks mid-answer", async () => {
    fake.behaviour.breakAfterChunks = 2;
    const stream = await client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: uniquePrompt() }], stream: true });
    const consume = async (): Promise<number> => {
      let count = 0;
      for await (const _ of stream) count += 1;
      return count;
    };
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  it("reads prompt_tokens_details.cached_tokens, from the provider and from the cache, streamed and not; 0 where the provider said none", async () => {
    const ask = (content: string, stream: boolean) =>
      stream
        ? client.chat.completions
            .create({ model: "auto", messages: [{ role: "user", content }], stream: true, stream_options: { include_usage: true } })
            .withResponse()
        : client.chat.completions.create({ model: "auto", messages: [{ role: "user", content }] }).withResponse();
    const usageOf = async (asked: Awaited<ReturnType<typeof ask>>): Promise<OpenAI.CompletionUsage | null | undefined> => {
      if (!(asked.data instanceof Stream)) return (asked.data as OpenAI.ChatCompletion).usage;
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of asked.data as Stream<OpenAI.ChatCompletionChunk>) if (chunk.usage) usage = chunk.usage;
      return usage;
    };
    for (const stream of [false, true]) {
      for (const [reported, cached] of [
        [{ prompt_tokens: 1_200, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 1_024 } }, 1_024],
        [{ prompt_tokens: 40, completion_tokens: 8 }, 0],
      ] as const) {
        fake.behaviour.usage = reported;
        const prompt = uniquePrompt("Cached");
        const served = await ask(prompt, stream);
        expect(served.response.headers.get("x-tiergate-cache")).toBe("MISS");
        expect((await usageOf(served))?.prompt_tokens_details?.cached_tokens).toBe(cached);
        const again = await ask(prompt, stream);
        expect(again.response.headers.get("x-tiergate-cache")).toBe("HIT");
        expect((await usageOf(again))?.prompt_tokens_details?.cached_tokens).toBe(cached);
      }
    }
  });
});
