import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ENV_VARIABLES, parseConfig } from "../../src/config/env.ts";
import { catalogPrices } from "../../src/routing/catalog.ts";
import { decide } from "../../src/routing/decide.ts";
import { costUsd, DEFAULT_MODELS, findModel, loadRegistry, RegistrySchema, TIERS } from "../../src/routing/registry.ts";
import { VERSION } from "../../src/version.ts";

describe("the built-in registry", () => {
  it("is valid, has at least 15 models, and covers all five tiers from OpenRouter, Groq and the makers' own providers", () => {
    expect(() => RegistrySchema.parse(DEFAULT_MODELS)).not.toThrow();
    expect(DEFAULT_MODELS.length).toBeGreaterThanOrEqual(15);
    for (const tier of TIERS)
      expect(
        DEFAULT_MODELS.some((m) => m.tier === tier),
        `tier ${tier}`,
      ).toBe(true);
    expect(new Set(DEFAULT_MODELS.map((m) => m.provider))).toEqual(
      new Set(["openrouter", "groq", "anthropic", "azure-openai", "bedrock", "gemini", "vertex", "vertex-anthropic"]),
    );
  });

  it("serves each of OpenRouter's Claude models natively at Anthropic too, at its tier and context, priced from Anthropic's list", () => {
    const native = DEFAULT_MODELS.filter((m) => m.provider === "anthropic");
    const routed = DEFAULT_MODELS.filter((m) => m.provider === "openrouter" && m.upstream_model.startsWith("anthropic/"));
    expect(native.map((m) => m.upstream_model)).toEqual(["claude-haiku-4-5", "claude-sonnet-5", "claude-opus-5-5"]);
    for (const [i, model] of native.entries()) {
      const twin = routed[i]!;
      expect(model.id).toBe(`anthropic/${model.upstream_model}`);
      // The same family: either falls back to the other first (fallbacks by family, registry.ts `familyOf`).
      expect({ tier: model.tier, context: model.context_window, capabilities: model.capabilities, family: model.family }).toEqual({
        tier: twin.tier,
        context: twin.context_window,
        capabilities: twin.capabilities,
        family: twin.family,
      });
    }
    // genai-prices' anthropic provider: Sonnet 5 at 2 / 10, reads 0.2, writes 2.5 (5 minutes) and 4 (1 hour).
    expect(native[1]).toMatchObject({
      input_usd_per_mtok: 2,
      output_usd_per_mtok: 10,
      cache_read_usd_per_mtok: 0.2,
      cache_write_usd_per_mtok: 2.5,
      cache_write_1h_usd_per_mtok: 4,
    });
  });

  it("puts each Claude, Gemini and GPT model at every provider in one family, so a failing provider falls back to the same model", () => {
    const families = new Map<string, string[]>();
    for (const model of DEFAULT_MODELS.filter((m) => /claude|gemini|gpt-[456]/.test(m.id)))
      families.set(model.family!, [...(families.get(model.family!) ?? []), model.provider]);
    expect(Object.fromEntries(families)).toEqual({
      "gemini-2.5-flash-lite": ["openrouter", "gemini", "vertex"],
      "gpt-4o-mini": ["openrouter", "azure-openai"],
      "gpt-6-luna": ["openrouter", "azure-openai"],
      "claude-haiku-4.5": ["openrouter", "anthropic", "bedrock", "vertex-anthropic"],
      "gemini-3.5-flash": ["openrouter", "gemini", "vertex"],
      "claude-sonnet-5": ["openrouter", "anthropic", "bedrock", "vertex-anthropic"],
      "gpt-6-sol": ["openrouter", "azure-openai"],
      "gemini-3.1-pro-preview": ["openrouter", "gemini", "vertex"],
      "claude-opus-5.5": ["openrouter", "anthropic", "bedrock", "vertex-anthropic"],
      "gpt-5.5": ["openrouter", "azure-openai"],
    });
  });

  it("serves the Claude models at Bedrock too, under short ids, at Bedrock's own prices (not Anthropic's)", () => {
    const bedrock = DEFAULT_MODELS.filter((m) => m.provider === "bedrock");
    expect(bedrock.map((m) => [m.id, m.upstream_model, m.tier])).toEqual([
      ["bedrock/claude-haiku-4.5", "global.anthropic.claude-haiku-4-5-20251001-v1:0", 3],
      ["bedrock/claude-sonnet-5", "global.anthropic.claude-sonnet-5-v1:0", 4],
      ["bedrock/claude-opus-5.5", "global.anthropic.claude-opus-5-5", 5],
    ]);
    const opus = bedrock.find((m) => m.id === "bedrock/claude-opus-5.5")!;
    // genai-prices' AWS list for the global profile, each class its own.
    expect([
      opus.input_usd_per_mtok,
      opus.output_usd_per_mtok,
      opus.cache_read_usd_per_mtok,
      opus.cache_write_usd_per_mtok,
      opus.cache_write_1h_usd_per_mtok,
    ]).toEqual([4, 20, 0.2, 5, 8]);
    // Each from Bedrock's own list: Sonnet 5's global profile, whose regional one (us., eu., ...) is a tenth dearer.
    for (const model of bedrock) expect(model).toMatchObject(catalogPrices("bedrock", model.upstream_model)!);
    expect(catalogPrices("bedrock", "regional.anthropic.claude-sonnet-5-v1:0")?.input_usd_per_mtok).toBe(2.2);
    expect(bedrock.find((m) => m.id === "bedrock/claude-sonnet-5")?.input_usd_per_mtok).toBe(2);
    // An hour's write at twice the input price, as Claude's is everywhere, where the catalog lacks it: never the 5-minute price.
    for (const model of bedrock) expect(model.cache_write_1h_usd_per_mtok).toBe(2 * model.input_usd_per_mtok);
  });

  it("serves the Claude models on Vertex AI too, by Vertex's ids, in their families, at Anthropic's list prices", () => {
    const vertex = DEFAULT_MODELS.filter((m) => m.provider === "vertex-anthropic");
    expect(vertex.map((m) => [m.id, m.upstream_model, m.tier, m.family])).toEqual([
      ["vertex-anthropic/claude-haiku-4.5", "claude-haiku-4-5@20251001", 3, "claude-haiku-4.5"],
      ["vertex-anthropic/claude-sonnet-5", "claude-sonnet-5", 4, "claude-sonnet-5"],
      ["vertex-anthropic/claude-opus-5.5", "claude-opus-5-5", 5, "claude-opus-5.5"],
    ]);
    const priceOf = (m: (typeof DEFAULT_MODELS)[number]) => [
      m.input_usd_per_mtok,
      m.output_usd_per_mtok,
      m.cache_read_usd_per_mtok,
      m.cache_write_usd_per_mtok,
      m.cache_write_1h_usd_per_mtok,
    ];
    // Each at its Anthropic twin's prices, the dated Haiku id included (Sonnet 5: 2 / 10, reads 0.2, writes 2.5 and 4).
    for (const model of vertex) {
      const twin = DEFAULT_MODELS.find((m) => m.provider === "anthropic" && m.family === model.family)!;
      expect(priceOf(model)).toEqual(priceOf(twin));
      expect({ context: model.context_window, capabilities: model.capabilities }).toEqual({ context: twin.context_window, capabilities: twin.capabilities });
    }
    expect(priceOf(vertex[1]!)).toEqual([2, 10, 0.2, 2.5, 4]);
  });

  it("gets no cheaper on average as tiers rise", () => {
    const meanPrice = (tier: number): number => {
      const models = DEFAULT_MODELS.filter((m) => m.tier === tier);
      return models.reduce((sum, m) => sum + m.input_usd_per_mtok + m.output_usd_per_mtok, 0) / models.length;
    };
    for (const tier of [2, 3, 4, 5]) expect(meanPrice(tier)).toBeGreaterThan(meanPrice(tier - 1));
  });
});

describe("MODELS_JSON", () => {
  const one = {
    id: "local/llama",
    provider: "groq",
    upstream_model: "llama",
    tier: 1,
    input_usd_per_mtok: 0,
    output_usd_per_mtok: 0,
    price_read_on: "2026-11-01",
    context_window: 8192,
    capabilities: ["streaming"],
  };

  it("replaces the whole registry; cache prices it leaves out are its input price where the catalog does not know the model", () => {
    expect(loadRegistry(JSON.stringify([one]))).toEqual([{ ...one, cache_read_usd_per_mtok: 0, cache_write_usd_per_mtok: 0, cache_write_1h_usd_per_mtok: 0 }]);
    expect(loadRegistry(undefined)).toBe(DEFAULT_MODELS);
  });

  it("is refused when malformed, duplicated or naming an unknown provider", () => {
    expect(() => loadRegistry("[")).toThrow();
    expect(() => loadRegistry(JSON.stringify([{ ...one, tier: 6 }]))).toThrow();
    expect(() => loadRegistry(JSON.stringify([{ ...one, capabilities: ["telepathy"] }]))).toThrow();
    expect(() => loadRegistry(JSON.stringify([one, one]))).toThrow(/duplicate model id/);
    expect(() => parseConfig({ MODELS_JSON: JSON.stringify([{ ...one, provider: "nowhere" }]) })).toThrow(/unknown provider/);
  });
});

describe("providers", () => {
  it("are configured only by their key; a custom one by its base URL, its key from a named binding", () => {
    const config = parseConfig({
      GROQ_API_KEY: "gsk_test",
      OPENROUTER_API_KEY: "",
      CUSTOM_PROVIDERS: JSON.stringify([{ id: "ollama", base_url: "http://127.0.0.1:11434/v1", api_key_binding: "OLLAMA_KEY" }]),
      OLLAMA_KEY: "local-secret",
    });
    expect(config.providers.get("groq")?.configured).toBe(true);
    expect(config.providers.get("openrouter")?.configured).toBe(false);
    expect(config.providers.get("openrouter")?.baseUrl).toBe("https://openrouter.ai/api/v1");
    expect(config.providers.get("ollama")).toMatchObject({ configured: true, apiKey: "local-secret" });
  });
});

describe("reliability settings", () => {
  it("reads per-tier strategies and per-provider probes as JSON, leaving unnamed tiers cost-first", () => {
    const config = parseConfig({
      TIER_STRATEGIES: '{"2":"latency","4":"weighted"}',
      PROVIDER_PROBES: '{"groq":"completion"}',
      BREAKER_COOLDOWN_SECONDS: "1.5",
    });
    expect(config.strategies).toEqual({ 1: "cost", 2: "latency", 3: "cost", 4: "weighted", 5: "cost" });
    expect(config.probes.kinds).toEqual({ groq: "completion" });
    expect(config.breaker).toMatchObject({ failures: 5, errorRatePct: 50, cooldownMs: 1_500, viewTtlMs: 1_000 });
    expect(config.problems).toEqual([]);
  });

  it("ignores a malformed one with a problem that says why, and keeps the default", () => {
    const config = parseConfig({ TIER_STRATEGIES: "{2:latency}", PROVIDER_PROBES: '{"groq":"ping"}' });
    expect(config.strategies[2]).toBe("cost");
    expect(config.probes.kinds).toEqual({});
    expect([...config.problems].sort()).toEqual([
      'PROVIDER_PROBES: Invalid option: expected one of "models"|"completion"|"off"; ignored',
      "TIER_STRATEGIES: not valid JSON; ignored",
    ]);
  });
});

describe("costUsd", () => {
  it("prices tokens per million at the model's rates", () => {
    const model = { ...DEFAULT_MODELS[0]!, input_usd_per_mtok: 2, output_usd_per_mtok: 8 };
    expect(costUsd(model, 1_000_000, 0)).toBe(2);
    expect(costUsd(model, 1_000, 500)).toBeCloseTo(0.002 + 0.004, 12);
  });
});

describe("VERSION", () => {
  it("matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});

describe(".dev.vars.example", () => {
  it("names every variable the worker reads", () => {
    const example = readFileSync(new URL("../../.dev.vars.example", import.meta.url), "utf8");
    for (const name of ENV_VARIABLES) expect(example, name).toMatch(new RegExp(`^${name}=`, "m"));
  });
});

describe("Google's models on three providers", () => {
  const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Summarise the plot of Hamlet in one paragraph." }] });

  it("with only OpenRouter configured, are routed as before: never to Gemini or Vertex, a bare name to OpenRouter's", () => {
    const config = parseConfig({ OPENROUTER_API_KEY: "sk-or-1" });
    for (const tier of TIERS) expect(decide(ask(`tier:${tier}`), config).model.provider).toBe("openrouter");
    expect(decide(ask("gemini-3.5-flash"), config).model.id).toBe("openrouter/google/gemini-3.5-flash");
    // Without a view of what is configured, the maker's own id comes first.
    expect(findModel(config.registry, "gemini-3.5-flash")?.id).toBe("gemini/gemini-3.5-flash");
  });

  it("with Gemini configured too, a bare name means Gemini's; with Vertex as well, still Gemini's, Vertex's in its family", () => {
    const gemini = parseConfig({ OPENROUTER_API_KEY: "sk-or-1", GEMINI_API_KEY: "AIza-1" });
    expect(decide(ask("gemini-3.5-flash"), gemini).model.id).toBe("gemini/gemini-3.5-flash");
    expect(decide(ask("gemini/gemini-3.5-flash"), gemini).mode).toBe("model");
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const key = { type: "service_account", project_id: "proj-123", client_email: "r@proj-123.iam.gserviceaccount.com", private_key: pem };
    const both = parseConfig({ OPENROUTER_API_KEY: "sk-or-1", GEMINI_API_KEY: "AIza-1", VERTEX_SERVICE_ACCOUNT_JSON: JSON.stringify(key) });
    const usable = (model: { provider: string }) => both.providers.get(model.provider)?.configured === true;
    expect(findModel(both.registry, "gemini-3.5-flash", usable)?.id).toBe("gemini/gemini-3.5-flash");
    expect(new Set(decide(ask("gemini-3.5-flash"), both).fallbacks.map((model) => model.id))).toEqual(
      new Set(["vertex/gemini-3.5-flash", "openrouter/google/gemini-3.5-flash"]),
    );
  });

  it("cost the same on AI Studio and Vertex: Google's list", () => {
    for (const upstream of ["gemini-2.5-flash-lite", "gemini-3.5-flash", "gemini-3.1-pro-preview"]) {
      const [gemini, vertex] = ["gemini", "vertex"].map((provider) => DEFAULT_MODELS.find((m) => m.id === `${provider}/${upstream}`)!);
      const { id: _g, provider: _gp, ...geminiPrices } = gemini!;
      const { id: _v, provider: _vp, ...vertexPrices } = vertex!;
      expect(vertexPrices).toEqual(geminiPrices);
      expect(gemini!.input_usd_per_mtok).toBe(catalogPrices("google", upstream)!.input_usd_per_mtok);
    }
  });
});
