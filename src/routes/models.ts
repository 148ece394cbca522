/** GET /v1/models and GET /v1/models/{id}: the registry in OpenAI's format, with tier, prices, context window and health. */
import type { Context } from "hono";
import type { Config } from "../config/env.ts";
import { ApiError } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { type HealthState, modelCircuit, modelTarget } from "../reliability/breakers.ts";
import { findModel, type Model, TIER_NAMES } from "../routing/registry.ts";

export async function listModels(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const state = await c.get("services").breakers.current();
  return c.json({ object: "list", data: config.registry.map((model) => modelEntry(model, config, state)) });
}

/** One model by registry id or by its provider's unambiguous id; ids hold `/`, sent plain or as `%2F`. */
export async function retrieveModel(c: Context<With>): Promise<Response> {
  const config = c.get("config");
  const id = c.req.param("id") ?? "";
  const model = findModel(config.registry, id);
  if (model === undefined) {
    throw new ApiError(404, `The model '${id.slice(0, 200)}' does not exist in this router's registry`, { code: "model_not_found", param: "model" });
  }
  return c.json(modelEntry(model, config, await c.get("services").breakers.current()));
}

function modelEntry(model: Model, { providers }: Config, state: HealthState | undefined) {
  return {
    id: model.id,
    object: "model" as const,
    created: Math.floor(Date.parse(model.price_read_on) / 1000),
    owned_by: model.provider,
    upstream_model: model.upstream_model,
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
