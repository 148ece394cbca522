/**
 * POST /v1/embeddings through the router with the official `openai` client, against real
 * Redis and Postgres and the fake provider: floats and base64 (the SDK's own default),
 * the cache, shortened vectors, token arrays, batches split to the provider's limit and
 * put back in order, what a provider served charged when a later batch fails, limits,
 * budgets, the typed errors and the audit row.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushedRows, makeKey, servedMicros, spentToday, useClientStack } from "../support/clients.ts";
import { type Router, startRouter, uniquePrompt } from "../support/router.ts";

const env = useClientStack();
let client: OpenAI;
/** A router whose one embedding model takes three inputs a call, as a provider with a small batch limit would. */
let small: Router;

const SMALL_BATCHES = [
  {
    id: "small-batches",
    provider: "openrouter",
    upstream_model: "fake/embed-64",
    input_usd_per_mtok: 0.02,
    price_read_on: "2026-12-01",
    dimensions: 64,
    shortens: false,
    max_input_tokens: 8_192,
    max_batch_inputs: 3,
    max_batch_tokens: 300_000,
  },
];

const newKey = (fields: Record<string, unknown>) => makeKey(env.router, env.storage, fields);
const clientFor = (key: string, router: Router = env.router): OpenAI => new OpenAI({ baseURL: `${router.url}/v1`, apiKey: key, maxRetries: 0 });
const norm = (vector: number[]): number => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));

beforeAll(async () => {
  client = clientFor(env.key);
  small = await startRouter({
    ...env.storage.bindings,
    REQUIRE_API_KEY: "true",
    OPENROUTER_BASE_URL: env.fake.url,
    OPENROUTER_API_KEY: "test-key-0123456789",
    EMBEDDING_MODELS_JSON: JSON.stringify(SMALL_BATCHES),
    UPSTREAM_RETRY_BASE_MS: "5",
  });
}, 60_000);
// Closed before the stack (after-all hooks run last registered first).
afterAll(() => small.close());

describe("embeddings.create", () => {
  it("answers floats of unit length, asks the provider for base64, and answers again from the cache", async () => {
    const input = uniquePrompt("The quick brown fox");
    const { data, response } = await client.embeddings.create({ model: "auto", input, encoding_format: "float" }).withResponse();
    expect(data.object).toBe("list");
    expect(data.data).toHaveLength(1);
    expect(data.data[0]).toMatchObject({ object: "embedding", index: 0 });
    expect(data.data[0]!.embedding).toHaveLength(1536);
    expect(norm(data.data[0]!.embedding)).toBeCloseTo(1, 5);
    expect(data.model).toBe("openai/text-embedding-3-small");
    expect(data.usage.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage.total_tokens).toBe(data.usage.prompt_tokens);
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/openai/text-embedding-3-small");
    expect(response.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(response.headers.get("x-tiergate-tier")).toBeNull();
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
    expect(Number(response.headers.get("x-tiergate-cost-usd"))).toBeGreaterThan(0);
    expect(env.fake.seen.at(-1)).toMatchObject({
      path: "/v1/embeddings",
      body: { model: "openai/text-embedding-3-small", input: [input], encoding_format: "base64" },
    });

    // The SDK's default is base64, which it decodes itself: the same floats, from the cache.
    const again = await client.embeddings.create({ model: "text-embedding-3-small", input }).withResponse();
    expect(again.response.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(again.response.headers.get("x-tiergate-cost-usd")).toBe("0.00000000");
    expect(again.data.data[0]!.embedding).toEqual(data.data[0]!.embedding);
    expect(env.fake.seen).toHaveLength(1);
  });

  it("answers base64 as OpenAI encodes it: float32, little-endian", async () => {
    const input = uniquePrompt("base64 please");
    const floats = await client.embeddings.create({ model: "auto", input, encoding_format: "float" });
    const raw = await env.router.fetch("/v1/embeddings", {
      method: "POST",
      headers: { authorization: client.apiKey === "" ? "" : `Bearer ${client.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "auto", input, encoding_format: "base64" }),
    });
    const body = (await raw.json()) as { data: { embedding: string }[] };
    const bytes = Buffer.from(body.data[0]!.embedding, "base64");
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    expect(decoded).toEqual(floats.data[0]!.embedding);
  });

  it("shortens vectors to `dimensions`, a separate cache entry from the full length", async () => {
    const input = uniquePrompt("short vector");
    const full = await client.embeddings.create({ model: "auto", input, encoding_format: "float" });
    const short = await client.embeddings.create({ model: "auto", input, dimensions: 256, encoding_format: "float" }).withResponse();
    expect(short.data.data[0]!.embedding).toHaveLength(256);
    expect(short.response.headers.get("x-tiergate-cache")).toBe("MISS");
    expect(full.data[0]!.embedding).toHaveLength(1536);
    expect(env.fake.seen.at(-1)!.body).toMatchObject({ dimensions: 256 });
    expect(env.fake.seen[0]!.body).not.toHaveProperty("dimensions");
  });

  it("embeds several inputs and token arrays in one call, in order", async () => {
    const texts = [uniquePrompt("one"), uniquePrompt("two"), uniquePrompt("three")];
    const many = await client.embeddings.create({ model: "auto", input: texts, encoding_format: "float" });
    expect(many.data.map((item) => item.index)).toEqual([0, 1, 2]);
    expect(env.fake.seen).toHaveLength(1);
    const alone = await client.embeddings.create({ model: "auto", input: texts[2]!, encoding_format: "float" });
    expect(alone.data[0]!.embedding).toEqual(many.data[2]!.embedding);

    const tokens = [
      [1, 2, 3, 4, 5, 6, 7],
      [8, 9],
    ];
    const byTokens = await client.embeddings.create({ model: "auto", input: tokens, encoding_format: "float" });
    expect(byTokens.data).toHaveLength(2);
    expect(byTokens.usage.prompt_tokens).toBe(9);
    expect(env.fake.seen.at(-1)!.body.input).toEqual(tokens);
  });
});

describe("the model list", () => {
  it("lists the embedding models, with the default first, and retrieves one", async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain("openrouter/openai/text-embedding-3-small");
    expect(ids).toContain("openrouter/openai/text-embedding-3-large");
    const one = (await client.models.retrieve("openrouter/openai/text-embedding-3-large")) as unknown as Record<string, unknown>;
    expect(one).toMatchObject({ type: "embedding", dimensions: 3072, default: false, pricing: { input_usd_per_mtok: 0.13 } });
  });
});

describe("batches larger than the provider takes", () => {
  it("splits them into calls of its size and puts the vectors back in order", async () => {
    const { key } = await makeKey(small, env.storage, { rpm: 10_000 });
    const smallClient = clientFor(key, small);
    env.fake.behaviour.embeddingBatchLimit = 3;
    const texts = Array.from({ length: 8 }, (_, i) => uniquePrompt(`item ${i}`));
    const batch = await smallClient.embeddings.create({ model: "auto", input: texts, encoding_format: "float" });
    expect(batch.data.map((item) => item.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const calls = env.fake.seen.filter((seen) => seen.path === "/v1/embeddings").map((seen) => seen.body.input as string[]);
    expect(calls.map((inputs) => inputs.length).sort()).toEqual([2, 3, 3]);
    expect(calls.flat().sort()).toEqual([...texts].sort());
    for (const index of [0, 4, 7]) {
      const alone = await smallClient.embeddings.create({ model: "auto", input: texts[index]!, encoding_format: "float" });
      expect(alone.data[0]!.embedding).toEqual(batch.data[index]!.embedding);
    }
    expect(batch.usage.prompt_tokens).toBe(texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0));
  });

  it("charges what the provider embedded when a later call fails, and answers the failure", async () => {
    const { key, id } = await makeKey(small, env.storage, { rpm: 10_000, daily_budget_usd: 1 });
    const smallClient = clientFor(key, small);
    env.fake.behaviour.embeddingBatchLimit = 3;
    env.fake.behaviour.failPrompts = ["poisoned"];
    const texts = [...Array.from({ length: 3 }, (_, i) => uniquePrompt(`fine ${i}`)), uniquePrompt("poisoned")];
    const failure = await smallClient.embeddings.create({ model: "auto", input: texts }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.InternalServerError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const [row] = await flushedRows(small, env.storage, id, 1);
    const served = texts.slice(0, 3).reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
    expect(row).toMatchObject({ surface: "embeddings", http_status: 502 });
    expect([Number(row!.prompt_tokens), Number(row!.completion_tokens)]).toEqual([served, 0]);
    expect(Number(row!.cost_usd)).toBe(Math.ceil(served * 0.02) / 1e6);
  });
});

describe("limits, budgets and the audit", () => {
  it("serves a budget worth three requests exactly three times, and the rows sum to the spend", async () => {
    // 0.02 µ$ a token: a short input costs 1 µ$, so 3 µ$ pays for three.
    const { key, id } = await newKey({ daily_budget_usd: 0.000003, rpm: 10_000 });
    const limited = clientFor(key);
    const results = [];
    for (let i = 0; i < 5; i++)
      results.push(await limited.embeddings.create({ model: "auto", input: uniquePrompt("budget") }).catch((error: unknown) => error));
    expect(results.filter((result) => result instanceof OpenAI.RateLimitError)).toHaveLength(2);
    const rows = await flushedRows(env.router, env.storage, id, 5);
    expect(rows.filter((row) => row.http_status === 200)).toHaveLength(3);
    expect(servedMicros(rows)).toBe(3);
    expect(await spentToday(env.router, key)).toBe(0.000003);
  });

  it("counts tokens against the key's tokens per minute", async () => {
    const { key } = await newKey({ tpm: 100, rpm: 10_000 });
    const limited = clientFor(key);
    const tokens = Array.from({ length: 60 }, (_, i) => i + 1);
    await limited.embeddings.create({ model: "auto", input: tokens });
    const second = await limited.embeddings.create({ model: "auto", input: [...tokens].reverse() }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it("writes one signed row naming the surface, the model and the cost", async () => {
    const { key, id } = await newKey({ rpm: 10_000 });
    const { response } = await clientFor(key)
      .embeddings.create({ model: "auto", input: uniquePrompt("audited") })
      .withResponse();
    const [row] = await flushedRows(env.router, env.storage, id, 1);
    expect(row!.request_id).toBe(response.headers.get("x-request-id"));
    expect(row).toMatchObject({
      surface: "embeddings",
      model: "openrouter/openai/text-embedding-3-small",
      provider: "openrouter",
      tier: null,
      cache_status: "MISS",
      constitutional_hash: "cdd01ef066bc6cf2",
      completion_tokens: "0",
    });
    expect(row!.request_hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(row!.cost_usd)).toBe(Number(response.headers.get("x-tiergate-cost-usd")));
  });
});

describe("bad input, in OpenAI's format", () => {
  const refused = async (body: Record<string, unknown>) => {
    const error = await client.embeddings.create(body as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  };

  it("names the parameter of each refusal, never a 5xx", async () => {
    expect(await refused({ model: "text-embedding-17", input: "x" })).toMatchObject({ status: 404, param: "model", code: "model_not_found" });
    expect(await refused({ model: "openai/gpt-4o-mini", input: "x" })).toMatchObject({ status: 404, param: "model" });
    expect(await refused({ model: "auto", input: "" })).toMatchObject({ status: 400, param: "input" });
    expect(await refused({ model: "auto", input: ["fine", ""] })).toMatchObject({ status: 400, param: "input[1]" });
    expect(await refused({ model: "auto", input: [] })).toMatchObject({ status: 400, param: "input" });
    expect(await refused({ model: "auto", input: "x", dimensions: 5000 })).toMatchObject({ status: 400, param: "dimensions" });
    expect(await refused({ model: "auto", input: "x", encoding_format: "int8" })).toMatchObject({ status: 400, param: "encoding_format" });
    expect(await refused({ model: "auto", input: [Array.from({ length: 9000 }, () => 1)] })).toMatchObject({ status: 400, param: "input[0]" });
    expect(env.fake.seen).toHaveLength(0);
  });

  it("refuses a model the key may not use with a 403; for such a key `auto` is the first model it may use", async () => {
    const { key } = await newKey({ models: ["openrouter/openai/text-embedding-3-large"] });
    const error = await clientFor(key)
      .embeddings.create({ model: "text-embedding-3-small", input: "x" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as InstanceType<typeof OpenAI.APIError>).param).toBe("model");
    const auto = await clientFor(key)
      .embeddings.create({ model: "auto", input: uniquePrompt("large"), encoding_format: "float" })
      .withResponse();
    expect(auto.response.headers.get("x-tiergate-model")).toBe("openrouter/openai/text-embedding-3-large");
    expect(auto.data.data[0]!.embedding).toHaveLength(3072);
    // A key that may use no embedding model is refused for `auto` too.
    const { key: chatOnly } = await newKey({ models: ["openrouter/mistralai/mistral-nemo"] });
    const refused = await clientFor(chatOnly)
      .embeddings.create({ model: "auto", input: "x" })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});
