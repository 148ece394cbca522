/** The Azure OpenAI adapter: its addresses, its key header, its error kinds, and its settings. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import type { Provider } from "../../src/config/providers.ts";
import { adapterFor } from "../../src/providers/adapters.ts";
import { azureOpenAi as adapter } from "../../src/providers/azure-openai/index.ts";
import { upstreamError } from "../../src/providers/upstream.ts";
import { sentJson } from "../support/sent-json.ts";

const provider: Provider = {
  id: "azure-openai",
  api: "azure-openai",
  baseUrl: "https://res.openai.azure.com/",
  apiKey: "azure-key-0123456789",
  configureWith: "X",
  configured: true,
  azure: { deployments: { "gpt-4o-mini": "prod-mini" }, apiVersion: "2024-10-21" },
};
const ask = { model: "auto", messages: [{ role: "user" as const, content: "hi" }] };
const body = (upstream: string) => adapter.body(ask, upstream, { stream: true, sessionKey: "s1" });

describe("the Azure OpenAI adapter", () => {
  it("calls a mapped model's deployment with the api-version, the key as api-key, and no model or prompt_cache_key in the body", async () => {
    const call = await adapter.completionRequest(provider, body("gpt-4o-mini"), true);
    expect(call.url).toBe("https://res.openai.azure.com/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21");
    expect(call.headers).toEqual({ "content-type": "application/json", accept: "text/event-stream", "api-key": "azure-key-0123456789" });
    const sent = sentJson(call);
    expect(sent).not.toHaveProperty("model");
    expect(sent).not.toHaveProperty("prompt_cache_key");
    expect(sent.stream_options).toEqual({ include_usage: true });
  });

  it("calls the v1 endpoint with the model's id for a model with no deployment, keeping prompt_cache_key", async () => {
    const call = await adapter.completionRequest(provider, body("gpt-5.5"), false);
    expect(call.url).toBe("https://res.openai.azure.com/openai/v1/chat/completions");
    expect(sentJson(call)).toMatchObject({ model: "gpt-5.5", prompt_cache_key: "s1" });
    expect(call.headers).not.toHaveProperty("authorization");
  });

  it("sends every call to v1 when the version is v1, a deployment's name as the model", async () => {
    const v1 = { ...provider, azure: { ...provider.azure!, apiVersion: "v1" } };
    const call = await adapter.completionRequest(v1, body("gpt-4o-mini"), false);
    expect(call.url).toBe("https://res.openai.azure.com/openai/v1/chat/completions");
    expect(sentJson(call).model).toBe("prod-mini");
  });

  it("embeds and probes at the same addresses", async () => {
    const embed = adapter.embeddingsRequest(provider, { upstreamModel: "gpt-4o-mini", inputs: ["a"], dimensions: undefined, user: undefined });
    expect(embed.url).toBe("https://res.openai.azure.com/openai/deployments/prod-mini/embeddings?api-version=2024-10-21");
    expect(embed.headers["api-key"]).toBe("azure-key-0123456789");
    const models = await adapter.probeRequest(provider, "models", "gpt-4o-mini");
    expect(models.url).toBe("https://res.openai.azure.com/openai/models?api-version=2024-10-21");
    const completion = await adapter.probeRequest(provider, "completion", "gpt-5.5");
    expect(completion.url).toBe("https://res.openai.azure.com/openai/v1/chat/completions");
  });

  it("reads Azure's refusals as the router's error kinds", async () => {
    const filtered = JSON.stringify({ error: { code: "content_filter", message: "filtered", innererror: { code: "ResponsibleAIPolicyViolation" } } });
    expect(adapter.errorKind!(400, filtered)).toBe("content_filtered");
    expect(adapter.errorKind!(400, JSON.stringify({ error: { code: null, innererror: { code: "ResponsibleAIPolicyViolation" } } }))).toBe("content_filtered");
    expect(adapter.errorKind!(400, JSON.stringify({ error: { code: "context_length_exceeded", message: "too long" } }))).toBe("context_too_long");
    expect(adapter.errorKind!(401, JSON.stringify({ error: { code: "401", message: "Access denied" } }))).toBe("auth_failed");
    expect(adapter.errorKind!(403, "")).toBe("auth_failed");
    expect(
      adapter.errorKind!(404, JSON.stringify({ error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist." } })),
    ).toBe("auth_failed");
    expect(adapter.errorKind!(429, "{}")).toBe("rate_limited");
    expect(adapter.errorKind!(400, JSON.stringify({ error: { code: "invalid_value" } }))).toBeUndefined();
    expect(adapter.errorKind!(500, "not json")).toBeUndefined();
  });

  it("turns them into the router's errors: 400 content_filtered, 400 context_length_exceeded, 502 auth, 429 with Retry-After", async () => {
    const err = (status: number, json: unknown, headers: Record<string, string> = {}) =>
      upstreamError({ provider, secrets: ["azure-key-0123456789"] }, adapter, new Response(JSON.stringify(json), { status, headers }));
    expect(await err(400, { error: { code: "content_filter", message: "The response was filtered" } })).toMatchObject({
      status: 400,
      code: "content_filtered",
    });
    expect(await err(400, { error: { code: "context_length_exceeded", message: "max 128000" } })).toMatchObject({
      status: 400,
      code: "context_length_exceeded",
    });
    const auth = await err(401, { error: { code: "401", message: "Access denied for key azure-key-0123456789" } });
    expect(auth).toMatchObject({ status: 502, code: "upstream_auth_failed" });
    expect(auth.message).not.toContain("azure-key-0123456789");
    const limited = await err(429, { error: { code: "429", message: "Please retry after 6 seconds" } }, { "retry-after": "6" });
    expect(limited).toMatchObject({ status: 429, code: "upstream_rate_limited", headers: { "retry-after": "6" } });
  });

  it("passes a 200 answer that the content filter cut as a finished answer", () => {
    const answer = JSON.stringify({
      choices: [{ index: 0, finish_reason: "content_filter", message: { role: "assistant", content: null }, content_filter_results: {} }],
      prompt_filter_results: [],
      usage: { prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 },
    });
    expect(adapter.chatAnswer(answer, "gpt-4o-mini")).toBe(answer);
    expect(adapter.readCompletion(answer)).toMatchObject({ complete: true, usage: { promptTokens: 9, completionTokens: 0 } });
    // Azure's first stream event carries only the prompt's filter results: a chunk, not an error.
    expect(adapter.firstEvent(JSON.stringify({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] }))).toBe("chunk");
  });
});

describe("Azure OpenAI's settings", () => {
  const base = { OPENROUTER_API_KEY: "k-0123456789" };
  it("is not configured until its endpoint and key are, and then serves the GPT models by their deployments", () => {
    expect(parseConfig(base).providers.get("azure-openai")).toMatchObject({ configured: false });
    const config = parseConfig({
      ...base,
      AZURE_OPENAI_ENDPOINT: "https://res.openai.azure.com",
      AZURE_OPENAI_API_KEY: "azure-key-0123456789",
      AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({ "azure-openai/gpt-5.5": "big", "gpt-4o-mini": "mini" }),
    });
    const azure = config.providers.get("azure-openai")!;
    expect(azure).toMatchObject({
      configured: true,
      api: "azure-openai",
      azure: { deployments: { "gpt-5.5": "big", "gpt-4o-mini": "mini" }, apiVersion: "2024-10-21" },
    });
    expect(adapterFor(azure)).toBe(adapter);
    expect(config.secrets).toContain("azure-key-0123456789");
    const served = config.registry.filter((model) => model.provider === "azure-openai").map((model) => model.id);
    expect(served).toEqual(["azure-openai/gpt-4o-mini", "azure-openai/gpt-6-luna", "azure-openai/gpt-6-sol", "azure-openai/gpt-5.5"]);
    // Priced at OpenAI's list prices: the catalog's Azure entries hold none of these models.
    const mini = config.registry.find((model) => model.id === "azure-openai/gpt-4o-mini")!;
    expect([mini.input_usd_per_mtok, mini.output_usd_per_mtok, mini.cache_read_usd_per_mtok]).toEqual([0.15, 0.6, 0.075]);
  });

  it("stops the router on a bad AZURE_OPENAI_DEPLOYMENTS, naming it", () => {
    expect(() => parseConfig({ ...base, AZURE_OPENAI_DEPLOYMENTS: "{not json" })).toThrow(/AZURE_OPENAI_DEPLOYMENTS: not valid JSON/);
    expect(() => parseConfig({ ...base, AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({ "gpt-4o-mini": "bad name/" }) })).toThrow(
      /AZURE_OPENAI_DEPLOYMENTS\.gpt-4o-mini/,
    );
  });
});
