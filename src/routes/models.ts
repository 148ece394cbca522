/**
 * GET /v1/models and GET /v1/models/{id}: the router's own names (`auto`, `tier:1`..`tier:5`)
 * and the registry, in OpenAI's format with tier, prices per usage class, context window and
 * health, or in Anthropic's (`type`, `display_name`, `created_at`) when the request carries
 * `anthropic-version`, as Anthropic's SDKs send it. A name the catalog knows and the registry
 * lacks (`gpt-3.5-turbo`) answers too: with what it is routed as.
 */
import type { Context } from "hono";
import type { Config } from "../config/env.ts";
import { ApiError } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { type HealthState, modelCircuit, modelTarget } from "../reliability/breakers.ts";
import { CATALOG_VERSION, catalogModelNamed, embeds, type NamedModel, noDearer, PRICES_AS_OF } from "../routing/catalog.ts";
import { cheapestNoDearer, type EmbeddingModel, findEmbeddingModel } from "../routing/embedding-models.ts";
import { familyOf, findModel, type Model, TIER_NAMES } from "../routing/registry.ts";

export async function listModels(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const state = await c.get("services").breakers.current((work) => c.executionCtx.waitUntil(work));
  if (anthropic(c)) {
    const data = [
      ...ROUTER_NAMES.map((name) => anthropicEntry(name, ROUTER_NAMES_SINCE)),
      ...config.registry.map((model) => anthropicEntry(model.id, pricedOn(model))),
    ];
    return c.json({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  }
  return c.json({
    object: "list",
    data: [
      ...ROUTER_NAMES.map(routerEntry),
      ...config.registry.map((model) => modelEntry(model, config, state)),
      ...config.embeddingModels.map((model) => embeddingEntry(model, config)),
    ],
  });
}

/** The names the router routes by itself: `auto`, and each tier. */
const ROUTER_NAMES = ["auto", "tier:1", "tier:2", "tier:3", "tier:4", "tier:5"] as const;
/** When this release's router names were first listed: their `created`. */
const ROUTER_NAMES_SINCE = Date.parse("2026-12-03T00:00:00Z");

const anthropic = (c: Context<With>): boolean => c.req.header("anthropic-version") !== undefined;

function routerEntry(name: string) {
  const tier = name === "auto" ? null : Number(name.slice(5));
  return {
    id: name,
    object: "model" as const,
    created: Math.floor(ROUTER_NAMES_SINCE / 1000),
    owned_by: "tiergate",
    description:
      tier === null
        ? "scored per request and routed to the best healthy model of its tier"
        : `the best healthy model of tier ${tier} (${TIER_NAMES[tier as 1]})`,
  };
}

function anthropicEntry(id: string, createdMs: number) {
  return { type: "model" as const, id, display_name: id, created_at: new Date(createdMs).toISOString() };
}

/**
 * One model by registry id, its provider's id or that id's last part; ids hold `/`, sent plain
 * or as `%2F`. A name the catalog knows and the registry lacks answers with its own prices and
 * what it is routed as (`auto` below a tier, or the embedding model that serves it).
 */
export async function retrieveModel(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const id = c.req.param("id") ?? "";
  if ((ROUTER_NAMES as readonly string[]).includes(id)) return c.json(anthropic(c) ? anthropicEntry(id, ROUTER_NAMES_SINCE) : routerEntry(id));
  const model = findModel(config.registry, id);
  const embedding = model === undefined ? findEmbeddingModel(config.embeddingModels, id) : undefined;
  if (embedding !== undefined) return c.json(anthropic(c) ? anthropicEntry(embedding.id, pricedOn(embedding)) : embeddingEntry(embedding, config));
  if (model !== undefined) {
    if (anthropic(c)) return c.json(anthropicEntry(model.id, pricedOn(model)));
    return c.json(modelEntry(model, config, await c.get("services").breakers.current((work) => c.executionCtx.waitUntil(work))));
  }
  const known = catalogModelNamed(id);
  const served = known === undefined ? undefined : servedAs(known, config);
  if (known === undefined || served === undefined) {
    throw new ApiError(404, `The model '${id.slice(0, 200)}' does not exist in this router's registry`, { code: "model_not_found", param: "model" });
  }
  if (anthropic(c)) return c.json(anthropicEntry(id, Date.parse(PRICES_AS_OF)));
  return c.json(catalogEntry(id, known, served));
}

/** What a catalog name is served as: `auto` up to the highest tier with a model no dearer, or the cheapest embedding model no dearer. */
function servedAs(known: NamedModel, { registry, embeddingModels }: Config): { routed_as: string; max_tier?: number } | undefined {
  if (embeds(known)) {
    const model = cheapestNoDearer(embeddingModels, known);
    return model === undefined ? undefined : { routed_as: model.id };
  }
  const tiers = registry.filter((model) => noDearer(model, known.prices)).map((model) => model.tier);
  return tiers.length === 0 ? undefined : { routed_as: "auto", max_tier: Math.max(...tiers) };
}

/** A name the catalog knows and the registry lacks: the catalog's prices for it, and what serves it here. */
function catalogEntry(id: string, known: NamedModel, served: { routed_as: string; max_tier?: number }) {
  const { above: _above, ...prices } = known.prices;
  return {
    id,
    object: "model" as const,
    created: Math.floor(Date.parse(PRICES_AS_OF) / 1000),
    owned_by: known.provider,
    catalog_model: known.id,
    ...served,
    pricing: { ...prices, price_read_on: CATALOG_VERSION },
  };
}

/** When a model's price was read: the catalog's day for the catalog's prices, else the operator's date. */
function pricedOn(model: Pick<Model, "price_read_on">): number {
  const date = Date.parse(model.price_read_on);
  return Number.isNaN(date) ? Date.parse(PRICES_AS_OF) : date;
}

/** An embedding model (POST /v1/embeddings): no tier, a vector length, the first one is `auto`'s. */
function embeddingEntry(model: EmbeddingModel, { providers, embeddingModels }: Config) {
  return {
    ...commonEntry(model),
    type: "embedding" as const,
    default: embeddingModels[0]?.id === model.id,
    // An embedding is all input, and no provider caches one: each class is the input price.
    pricing: {
      input_usd_per_mtok: model.input_usd_per_mtok,
      output_usd_per_mtok: 0,
      cache_read_usd_per_mtok: model.input_usd_per_mtok,
      cache_write_usd_per_mtok: model.input_usd_per_mtok,
      cache_write_1h_usd_per_mtok: model.input_usd_per_mtok,
      price_read_on: model.price_read_on,
    },
    dimensions: model.dimensions,
    shortens: model.shortens,
    max_input_tokens: model.max_input_tokens,
    provider_configured: providers.get(model.provider)?.configured === true,
  };
}

/** What OpenAI's model object and the registry say of any model: its ids, its owner, and when its price was read. */
function commonEntry(model: Pick<Model, "id" | "provider" | "upstream_model" | "price_read_on">) {
  return {
    id: model.id,
    object: "model" as const,
    created: Math.floor(pricedOn(model) / 1000),
    owned_by: model.provider,
    upstream_model: model.upstream_model,
  };
}

function modelEntry(model: Model, { providers }: Config, state: HealthState | undefined) {
  return {
    ...commonEntry(model),
    tier: model.tier,
    tier_name: TIER_NAMES[model.tier],
    pricing: {
      input_usd_per_mtok: model.input_usd_per_mtok,
      output_usd_per_mtok: model.output_usd_per_mtok,
      cache_read_usd_per_mtok: model.cache_read_usd_per_mtok,
      cache_write_usd_per_mtok: model.cache_write_usd_per_mtok,
      cache_write_1h_usd_per_mtok: model.cache_write_1h_usd_per_mtok,
      ...(model.above === undefined ? {} : { above: model.above }),
      price_read_on: model.price_read_on,
    },
    context_window: model.context_window,
    capabilities: model.capabilities,
    family: familyOf(model),
    provider_configured: providers.get(model.provider)?.configured === true,
    /** The circuit as this isolate last read it (at most HEALTH_CACHE_MS old): the provider's when that is not closed. */
    health: {
      ...modelCircuit(state?.openUntil, model),
      latency_ewma_ms: state?.latencyMs.get(modelTarget(model.id)) ?? null,
    },
  };
}
