/**
 * GET /v1/models and GET /v1/models/{id}: the router's own names (`auto`, `tier:1`..`tier:5`)
 * and the registry, in OpenAI's format with tier, prices, context window and health, or
 * in Anthropic's (`type`, `display_name`, `created_at`) when the request carries
 * `anthropic-version`, as Anthropic's SDKs send it.
 */
import type { Context } from "hono";
import type { Config } from "../config/env.ts";
import { ApiError } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { type HealthState, modelCircuit, modelTarget } from "../reliability/breakers.ts";
import type { EmbeddingModel } from "../routing/embedding-models.ts";
import { findModel, type Model, TIER_NAMES } from "../routing/registry.ts";

export async function listModels(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const state = await c.get("services").breakers.current();
  if (anthropic(c)) {
    const data = [
      ...ROUTER_NAMES.map((name) => anthropicEntry(name, ROUTER_NAMES_SINCE)),
      ...config.registry.map((model) => anthropicEntry(model.id, Date.parse(model.price_read_on))),
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

/** One model by registry id or by its provider's unambiguous id; ids hold `/`, sent plain or as `%2F`. */
export async function retrieveModel(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const id = c.req.param("id") ?? "";
  if ((ROUTER_NAMES as readonly string[]).includes(id)) return c.json(anthropic(c) ? anthropicEntry(id, ROUTER_NAMES_SINCE) : routerEntry(id));
  const model = findModel(config.registry, id);
  const embedding = model === undefined ? config.embeddingModels.find((candidate) => candidate.id === id) : undefined;
  if (embedding !== undefined)
    return c.json(anthropic(c) ? anthropicEntry(embedding.id, Date.parse(embedding.price_read_on)) : embeddingEntry(embedding, config));
  if (model === undefined) {
    throw new ApiError(404, `The model '${id.slice(0, 200)}' does not exist in this router's registry`, { code: "model_not_found", param: "model" });
  }
  if (anthropic(c)) return c.json(anthropicEntry(model.id, Date.parse(model.price_read_on)));
  return c.json(modelEntry(model, config, await c.get("services").breakers.current()));
}

/** An embedding model (POST /v1/embeddings): no tier, a vector length, the first one is `auto`'s. */
function embeddingEntry(model: EmbeddingModel, { providers, embeddingModels }: Config) {
  return {
    ...commonEntry(model),
    type: "embedding" as const,
    default: embeddingModels[0]?.id === model.id,
    pricing: { input_usd_per_mtok: model.input_usd_per_mtok, output_usd_per_mtok: 0, price_read_on: model.price_read_on },
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
    created: Math.floor(Date.parse(model.price_read_on) / 1000),
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
      price_read_on: model.price_read_on,
    },
    context_window: model.context_window,
    capabilities: model.capabilities,
    provider_configured: providers.get(model.provider)?.configured === true,
    /** The circuit as this isolate last read it (at most HEALTH_CACHE_MS old): the provider's when that is not closed. */
    health: {
      ...modelCircuit(state?.openUntil, model),
      latency_ewma_ms: state?.latencyMs.get(modelTarget(model.id)) ?? null,
    },
  };
}
