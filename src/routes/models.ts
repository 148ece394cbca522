/** GET /v1/models: the registry in OpenAI's list format, with tier, prices and context window. */
import type { Context } from "hono";
import { TIER_NAMES } from "../config/registry.ts";
import type { AppEnv } from "../http/app-env.ts";

export function listModels(c: Context<AppEnv>): Response {
  const { registry, providers } = c.get("config");
  const data = registry.map((model) => ({
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
  }));
  return c.json({ object: "list", data });
}
