/** The official `openai` client through the router to Azure OpenAI (the fake provider's Azure face). */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { type Router, startRouter, uniquePrompt } from "../support/router.ts";

const AZURE_KEY = "azure-test-key-0123456789";
let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
let router: Router;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeUpstream();
  router = await startRouter({
    OPENROUTER_BASE_URL: fake.url,
    OPENROUTER_API_KEY: "test-openrouter-key-0123",
    UPSTREAM_RETRY_BASE_MS: "5",
    AZURE_OPENAI_ENDPOINT: fake.azureEndpoint,
    AZURE_OPENAI_API_KEY: AZURE_KEY,
    AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({ "azure-openai/gpt-4o-mini": "prod-mini" }),
  });
  client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: "unused", maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await router.close();
  await fake.close();
});
beforeEach(() => {
  fake.behaviour = { ...fake.behaviour, requiredKey: AZURE_KEY, filterPrompts: undefined, completionTokens: 4 };
  fake.seen.length = 0;
});

describe("Azure OpenAI through the router", () => {
  it("calls a mapped model's deployment with the api-version and the api-key header", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "azure-openai/gpt-4o-mini", messages: [{ role: "user", content: uniquePrompt() }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Fake token1 token2 token3");
    expect(response.headers.get("x-tiergate-model")).toBe("azure-openai/gpt-4o-mini");
    // Azure's own fields pass through as it sent them.
    expect(data).toMatchObject({ prompt_filter_results: [{ prompt_index: 0 }], choices: [{ content_filter_results: { violence: { filtered: false } } }] });
    const seen = fake.seen.at(-1)!;
    expect(seen.path).toBe("/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21");
    expect(seen.headers["api-key"]).toBe(AZURE_KEY);
    expect(seen.headers.authorization).toBeUndefined();
  });

  it("streams from the v1 endpoint for a model without a deployment, with usage", async () => {
    const stream = await client.chat.completions.create({
      model: "azure-openai/gpt-5.5",
      messages: [{ role: "user", content: uniquePrompt() }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Fake token1 token2 token3");
    expect(usage?.completion_tokens).toBe(4);
    const seen = fake.seen.at(-1)!;
    expect(seen.path).toBe("/openai/v1/chat/completions");
    expect(seen.body.model).toBe("gpt-5.5");
  });

  it("answers Azure's content filter as a 400 content_filtered, without trying another model", async () => {
    fake.behaviour.filterPrompts = ["forbidden words"];
    const error = await client.chat.completions
      .create({ model: "azure-openai/gpt-4o-mini", messages: [{ role: "user", content: uniquePrompt("forbidden words") }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("content_filtered");
    expect(fake.seen).toHaveLength(0);
  });

  it("reports a refused Azure key as the provider's auth failure, never echoing the key", async () => {
    fake.behaviour.requiredKey = "another-key-0123456789";
    const response = await router.fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "azure-openai/gpt-4o-mini", messages: [{ role: "user", content: uniquePrompt() }] }),
    });
    const text = await response.text();
    expect(response.status).toBe(502);
    expect(JSON.parse(text).error.code).toBe("upstream_auth_failed");
    expect(text).not.toContain(AZURE_KEY);
  });

  it("serves a bare name at the maker's own provider once it is configured: gpt-4o-mini at Azure, OpenRouter's its fallback", async () => {
    fake.behaviour.requiredKey = undefined;
    const { response } = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: uniquePrompt() }] }).withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe("azure-openai/gpt-4o-mini");
  });
});
