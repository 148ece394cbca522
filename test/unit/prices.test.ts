/** The registry's prices: generated from @pydantic/genai-prices, read back by the Worker, and required of every model. */
import { readdirSync, readFileSync } from "node:fs";
import { calcPrice } from "@pydantic/genai-prices";
import { describe, expect, it } from "vitest";
import { catalogVersion, committedAsOf, MODULE_PATH, renderPricesModule } from "../../scripts/prices/generate.ts";
import { parseConfig } from "../../src/config/env.ts";
import { CATALOG_VERSION, catalogPrices, PRICES_AS_OF } from "../../src/routing/catalog.ts";
import { DEFAULT_EMBEDDING_MODELS } from "../../src/routing/embedding-models.ts";
import { DEFAULT_MODELS, loadRegistry, TIERS } from "../../src/routing/registry.ts";

const committed = readFileSync(MODULE_PATH, "utf8");
const asOf = new Date(`${PRICES_AS_OF}T00:00:00Z`);
/** The catalog's own price of these tokens, in USD, for a provider's model on the module's day. */
const listed = (provider: string, model: string, usage: Record<string, number>): number =>
  calcPrice(usage, model, { providerId: provider, timestamp: asOf })!.total_price;

describe("prices.generated.ts", () => {
  it("is what the installed catalog gives for its day: a bumped catalog fails here until regenerated", () => {
    expect(committedAsOf(committed)).toBe(PRICES_AS_OF);
    expect(committed, "stale: run npm run prices:generate").toBe(renderPricesModule(PRICES_AS_OF));
    expect(CATALOG_VERSION).toBe(catalogVersion());
    expect(CATALOG_VERSION).toMatch(/^genai-prices \d+\.\d+\.\d+$/);
  });

  it("is small enough for the Worker: the catalog itself never ships", () => {
    expect(committed.length).toBeLessThan(80_000);
    const sources = readdirSync(new URL("../../src", import.meta.url), { recursive: true, encoding: "utf8" }).filter((path) => path.endsWith(".ts"));
    for (const path of sources) expect(readFileSync(new URL(`../../src/${path}`, import.meta.url), "utf8"), path).not.toMatch(/from "@pydantic\/genai-prices"/);
  });

  it("prices each class as the catalog does, for Groq's and OpenRouter's ids", () => {
    const usage = { input_tokens: 1_000_000, cache_read_tokens: 400_000, output_tokens: 1_000_000 };
    for (const [provider, model] of [
      ["groq", "openai/gpt-oss-120b"],
      ["openrouter", "openai/gpt-4o-mini"],
      ["openrouter", "deepseek/deepseek-v4-pro"],
    ] as const) {
      const prices = catalogPrices(provider, model)!;
      const ours = 0.6 * prices.input_usd_per_mtok + 0.4 * prices.cache_read_usd_per_mtok + prices.output_usd_per_mtok;
      expect(ours, `${provider} ${model}`).toBeCloseTo(listed(provider, model, usage), 9);
    }
  });

  it("takes what OpenRouter's entry lacks from the model's own provider: Anthropic's 1-hour write, Google's long-prompt tier", () => {
    const opus = catalogPrices("openrouter", "anthropic/claude-opus-5.5")!;
    expect(opus).toMatchObject({ input_usd_per_mtok: 4, cache_read_usd_per_mtok: 0.2, cache_write_usd_per_mtok: 5 });
    expect(opus.cache_write_1h_usd_per_mtok).toBe(catalogPrices("anthropic", "claude-opus-5-5")!.cache_write_1h_usd_per_mtok);
    expect(opus.cache_write_1h_usd_per_mtok).toBe(8);
    const pro = catalogPrices("openrouter", "google/gemini-3.1-pro-preview")!;
    expect(pro.above).toMatchObject({ prompt_tokens: 200_000, input_usd_per_mtok: 4, output_usd_per_mtok: 18 });
    // Above the threshold the whole request is priced higher, as the catalog computes it.
    const long = { input_tokens: 250_000, output_tokens: 1_000 };
    expect((250_000 * pro.above!.input_usd_per_mtok + 1_000 * pro.above!.output_usd_per_mtok) / 1e6).toBeCloseTo(
      listed("google", "gemini-3.1-pro-preview", long),
      9,
    );
  });

  it("gives no cache discount where the catalog lists none: each cache class is the input price", () => {
    expect(catalogPrices("groq", "llama-3.3-70b-versatile")).toEqual({
      input_usd_per_mtok: 0.59,
      output_usd_per_mtok: 0.79,
      cache_read_usd_per_mtok: 0.59,
      cache_write_usd_per_mtok: 0.59,
      cache_write_1h_usd_per_mtok: 0.59,
    });
    expect(catalogPrices("groq", "no-such-model")).toBeUndefined();
    expect(catalogPrices("ollama", "llama3")).toBeUndefined();
  });
});

describe("the built-in registry's prices", () => {
  it("come from the catalog, and say which version", () => {
    for (const model of DEFAULT_MODELS) {
      expect(model.price_read_on, model.id).toBe(CATALOG_VERSION);
      expect(model.input_usd_per_mtok, model.id).toBeGreaterThan(0);
      expect(model.output_usd_per_mtok, model.id).toBeGreaterThan(0);
      const { above: _, ...five } = catalogPrices(model.provider, model.upstream_model)!;
      expect(model, model.id).toMatchObject(five);
    }
    for (const model of DEFAULT_EMBEDDING_MODELS) expect(model.input_usd_per_mtok).toBe(catalogPrices("openrouter", model.upstream_model)!.input_usd_per_mtok);
  });

  it("serve each tier from at least two providers where the catalog has them (Groq ends at tier 3), and name current Claude, GPT and Gemini models", () => {
    for (const tier of TIERS) {
      const providers = new Set(DEFAULT_MODELS.filter((model) => model.tier === tier).map((model) => model.provider));
      expect(providers.size, `tier ${tier}`).toBeGreaterThanOrEqual(tier <= 3 ? 2 : 1);
      const makers = new Set(DEFAULT_MODELS.filter((model) => model.tier === tier).map((model) => model.upstream_model.split("/")[0]));
      expect(makers.size, `tier ${tier}`).toBeGreaterThanOrEqual(3);
    }
    const ids = DEFAULT_MODELS.map((model) => model.upstream_model);
    for (const family of [/^anthropic\/claude-(opus|sonnet|haiku)/, /^openai\/gpt-/, /^google\/gemini-/]) {
      expect(ids.filter((id) => family.test(id)).length, String(family)).toBeGreaterThanOrEqual(3);
    }
  });
});

describe("MODELS_JSON prices", () => {
  const entry = { id: "mine/llama", provider: "groq", upstream_model: "llama-3.3-70b-versatile", tier: 3, context_window: 131_072, capabilities: ["tools"] };

  it("takes the catalog's prices and version for a provider's model the catalog knows", () => {
    const [model] = loadRegistry(JSON.stringify([entry]));
    expect(model).toMatchObject({ input_usd_per_mtok: 0.59, output_usd_per_mtok: 0.79, cache_read_usd_per_mtok: 0.59, price_read_on: CATALOG_VERSION });
    const [haiku] = loadRegistry(JSON.stringify([{ ...entry, id: "mine/haiku", provider: "openrouter", upstream_model: "anthropic/claude-haiku-4.5" }]));
    expect(haiku).toMatchObject({
      input_usd_per_mtok: 1,
      output_usd_per_mtok: 5,
      cache_read_usd_per_mtok: 0.1,
      cache_write_usd_per_mtok: 1.25,
      cache_write_1h_usd_per_mtok: 2,
    });
  });

  it("keeps the operator's prices, filling only the cache prices it leaves out", () => {
    const [model] = loadRegistry(
      JSON.stringify([
        {
          ...entry,
          provider: "openrouter",
          upstream_model: "openai/gpt-4o-mini",
          input_usd_per_mtok: 0.2,
          output_usd_per_mtok: 0.7,
          price_read_on: "2026-11-30",
        },
      ]),
    );
    expect(model).toMatchObject({
      input_usd_per_mtok: 0.2,
      output_usd_per_mtok: 0.7,
      cache_read_usd_per_mtok: 0.075,
      cache_write_usd_per_mtok: 0.15,
      price_read_on: "2026-11-30",
    });
    const custom = {
      ...entry,
      id: "local/llama",
      provider: "ollama",
      upstream_model: "llama3",
      input_usd_per_mtok: 0.3,
      output_usd_per_mtok: 0.3,
      price_read_on: "2026-11-30",
    };
    const [local] = loadRegistry(JSON.stringify([custom]));
    expect(local).toMatchObject({ cache_read_usd_per_mtok: 0.3, cache_write_usd_per_mtok: 0.3, cache_write_1h_usd_per_mtok: 0.3 });
  });

  it("refuses at load, by name, a model priced by neither the entry nor the catalog; an explicit 0 is the operator's", () => {
    const unpriced = { ...entry, id: "local/mystery", provider: "ollama", upstream_model: "mystery-7b" };
    expect(() => loadRegistry(JSON.stringify([unpriced]))).toThrow(/local\/mystery has no price/);
    expect(() => loadRegistry(JSON.stringify([{ ...unpriced, input_usd_per_mtok: 0.1 }]))).toThrow(/local\/mystery has no price.*output_usd_per_mtok/);
    expect(() =>
      parseConfig({ CUSTOM_PROVIDERS: '[{"id":"ollama","base_url":"http://127.0.0.1:11434/v1"}]', MODELS_JSON: JSON.stringify([unpriced]) }),
    ).toThrow(/local\/mystery/);
    const free = { ...unpriced, input_usd_per_mtok: 0, output_usd_per_mtok: 0, price_read_on: "2026-12-01" };
    expect(loadRegistry(JSON.stringify([free]))[0]).toMatchObject({ input_usd_per_mtok: 0, cache_read_usd_per_mtok: 0 });
  });
});
