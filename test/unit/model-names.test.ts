/** Names clients send: a registry id's last part, and a model the catalog knows that the registry lacks, routed no dearer than it. */
import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { decideFor } from "../../src/engine/decision.ts";
import { ApiError } from "../../src/http/errors.ts";
import { catalogModelNamed, catalogPrices } from "../../src/routing/catalog.ts";
import { decide } from "../../src/routing/decide.ts";
import { cheapestNoDearer, DEFAULT_EMBEDDING_MODELS, findEmbeddingModel } from "../../src/routing/embedding-models.ts";
import { NO_HEALTH } from "../../src/routing/pick.ts";
import { findModel } from "../../src/routing/registry.ts";
import { testModel } from "../support/models.ts";

const config = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x" });
const ask = (model: string, content = "hi", extra: Partial<CanonicalRequest> = {}): CanonicalRequest =>
  ({ model, messages: [{ role: "user", content }], ...extra }) as CanonicalRequest;
const HARD = "Prove rigorously that every bounded monotone sequence of real numbers converges, then derive the Bolzano-Weierstrass theorem from it.";

describe("a registry id's last part", () => {
  it("resolves to the one entry whose upstream id ends with it", () => {
    const configured = (model: { provider: string }) => config.providers.get(model.provider)?.configured === true;
    expect(findModel(config.registry, "gpt-4o-mini", configured)?.id).toBe("openrouter/openai/gpt-4o-mini");
    expect(findModel(config.registry, "claude-sonnet-5")?.id).toBe("openrouter/anthropic/claude-sonnet-5");
    // Anthropic's own ids are Claude's clients' names, routed: its native entries answer to their registry ids alone.
    expect(findModel(config.registry, "anthropic/claude-sonnet-5")?.id).toBe("anthropic/claude-sonnet-5");
    expect(findModel(config.registry, "claude-opus-5-5")).toBeUndefined();
    expect(findModel(parseConfig({ ANTHROPIC_API_KEY: "sk-ant-x" }).registry, "claude-haiku-4-5")).toBeUndefined();
    expect(decide(ask("gpt-4o-mini"), config)).toMatchObject({ mode: "model", model: { id: "openrouter/openai/gpt-4o-mini" } });
    expect(findEmbeddingModel(DEFAULT_EMBEDDING_MODELS, "text-embedding-3-small")?.id).toBe("openrouter/openai/text-embedding-3-small");
  });

  it("wins over the default aliases, and yields to the operator's own", async () => {
    const services = (settings: Record<string, string> = {}) => ({
      config: parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x", ...settings }),
      breakers: { current: async () => undefined, routing: () => NO_HEALTH, callerRefusal: () => undefined },
    });
    // claude-* is routed by default, but claude-sonnet-5 is a registry model's own name.
    expect(await decideFor(services(), ask("claude-sonnet-5"), undefined)).toMatchObject({
      mode: "model",
      model: { id: "openrouter/anthropic/claude-sonnet-5" },
    });
    expect(await decideFor(services(), ask("gpt-5.5"), undefined)).toMatchObject({ mode: "model", model: { id: "openrouter/openai/gpt-5.5" } });
    const aliased = await decideFor(services({ MODEL_ALIASES: JSON.stringify({ "gpt-5*": "auto" }) }), ask("gpt-5.5"), undefined);
    expect(aliased.mode).toBe("auto");
    expect(aliased.reasons[0]).toMatch(/alias of auto/);
    // A provider's own id is never an alias.
    const exact = await decideFor(services({ MODEL_ALIASES: JSON.stringify({ "openai/*": "tier:1" }) }), ask("openai/gpt-5.5"), undefined);
    expect(exact.model.id).toBe("openrouter/openai/gpt-5.5");
  });

  it("resolves nothing when two entries share it", () => {
    const registry = [testModel("a/x", 1, 1, { upstream_model: "a/shared" }), testModel("b/x", 2, 1, { upstream_model: "b/shared" })];
    expect(findModel(registry, "shared")).toBeUndefined();
    expect(findModel(registry, "a/shared")?.id).toBe("a/x");
  });
});

describe("a name the catalog knows and the registry lacks", () => {
  it("is the catalog's model: by id, another name it answers to, a dated name, or the longest prefix", () => {
    expect(catalogModelNamed("gpt-3.5-turbo")).toMatchObject({
      provider: "openai",
      id: "gpt-3.5-turbo",
      prices: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 },
    });
    expect(catalogModelNamed("gpt-4.1-2025-04-14")?.id).toBe("gpt-4.1");
    expect(catalogModelNamed("claude-3-5-sonnet-20241022")).toMatchObject({ provider: "anthropic", id: "claude-3-5-sonnet" });
    expect(catalogModelNamed("claude-opus-4-5-20251101")?.id).toBe("claude-opus-4-5");
    expect(catalogModelNamed("o3-mini")?.prices.input_usd_per_mtok).toBe(1.1);
    expect(catalogModelNamed("gpt-17")).toBeUndefined();
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) expect(catalogModelNamed(name), name).toBeUndefined();
    expect(catalogPrices("__proto__", "constructor")).toBeUndefined();
    expect(catalogPrices("openrouter", "__proto__")).toBeUndefined();
    expect(catalogModelNamed("")).toBeUndefined();
  });

  it.each(["gpt-3.5-turbo", "gpt-4.1", "gpt-5", "o3-mini", "claude-3-5-sonnet-20241022"])("routes %s as auto, only to models no dearer than it", (name) => {
    const known = catalogModelNamed(name)!;
    for (const content of ["hi", HARD]) {
      const decision = decide(ask(name, content), config);
      expect(decision.mode).toBe("auto");
      for (const model of [decision.model, ...decision.fallbacks]) {
        expect(model.input_usd_per_mtok, model.id).toBeLessThanOrEqual(known.prices.input_usd_per_mtok);
        expect(model.output_usd_per_mtok, model.id).toBeLessThanOrEqual(known.prices.output_usd_per_mtok);
      }
      expect(decision.reasons[0]).toMatch(new RegExp(`^${name} is not in the registry: routed as auto, capped at tier \\d, no dearer than it`));
    }
  });

  it("is capped at the highest tier that has a model no dearer: a hard prompt for gpt-3.5-turbo stays low, for Claude 3.5 Sonnet goes higher", () => {
    const cheap = decide(ask("gpt-3.5-turbo", HARD), config);
    const capOf = (name: string): number => Number(/capped at tier (\d)/.exec(decide(ask(name, HARD), config).reasons[0]!)![1]);
    expect(cheap.tier).toBeLessThanOrEqual(capOf("gpt-3.5-turbo"));
    // gpt-3.5-turbo ($0.5/$1.5) affords tier 3's cheapest; nothing of tier 4 or 5.
    expect(capOf("gpt-3.5-turbo")).toBe(3);
    // Claude 3.5 Sonnet ($3/$15) affords Gemini 3.1 Pro ($2/$12) of tier 5, and not Claude Opus 5.5 ($4/$20).
    expect(capOf("claude-3-5-sonnet-20241022")).toBe(5);
    const sonnet = decide(ask("claude-3-5-sonnet-20241022", HARD), config);
    expect([sonnet.model, ...sonnet.fallbacks].map((model) => model.id)).not.toContain("openrouter/anthropic/claude-opus-5.5");
    expect(decide(ask("auto", HARD), config).tier).toBeGreaterThan(cheap.tier);
  });

  it("is refused with 404 when every model is dearer, and when it embeds rather than chats", () => {
    const dear = parseConfig({ GROQ_API_KEY: "gsk_x", MODELS_JSON: JSON.stringify([testModel("groq/big", 1, 50)]) });
    expect(() => decide(ask("gpt-3.5-turbo"), dear)).toThrow(/every model in it is dearer/);
    try {
      decide(ask("text-embedding-ada-002"), config);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(404);
    }
  });

  it("caps an alias of auto too: Claude Code's name costs no more than the model it names", async () => {
    const services = { config, breakers: { current: async () => undefined, routing: () => NO_HEALTH, callerRefusal: () => undefined } };
    const decision = await decideFor(services, ask("claude-haiku-4-5-20251001", HARD), undefined);
    expect(decision.mode).toBe("auto");
    expect(decision.reasons[0]).toMatch(/alias of auto, at most tier 2/);
    expect(decision.reasons[1]).toMatch(/^claude-haiku-4-5-20251001 is not in the registry: routed as auto, capped at tier \d, no dearer than it/);
    for (const model of [decision.model, ...decision.fallbacks]) expect(model.output_usd_per_mtok).toBeLessThanOrEqual(5);
  });

  it("for embeddings is the cheapest embedding model no dearer", () => {
    const ada = catalogModelNamed("text-embedding-ada-002")!;
    expect(ada.prices).toMatchObject({ input_usd_per_mtok: 0.1, output_usd_per_mtok: 0 });
    expect(cheapestNoDearer(DEFAULT_EMBEDDING_MODELS, ada)?.id).toBe("openrouter/openai/text-embedding-3-small");
    expect(cheapestNoDearer(DEFAULT_EMBEDDING_MODELS, { ...ada, prices: { ...ada.prices, input_usd_per_mtok: 0.01 } })).toBeUndefined();
  });
});
