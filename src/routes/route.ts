/** POST /v1/route: the routing decision alone, with no provider call and no cost. */
import type { Context } from "hono";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { AppEnv } from "../http/app-env.ts";
import { decisionHeaders, readAndDecide } from "./decision.ts";

export async function routeOnly(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const { decision } = await readAndDecide(c);
  return c.json(
    {
      tier: decision.tier,
      score: decision.score,
      model: decision.model.id,
      provider: decision.model.provider,
      provider_configured: config.providers.get(decision.model.provider)?.configured === true,
      mode: decision.mode,
      features: decision.features,
      reasons: decision.reasons,
      fallbacks: decision.fallbacks.map((model) => ({ model: model.id, provider: model.provider, tier: model.tier })),
      estimated_prompt_tokens: decision.promptTokens,
      estimated_cost_usd: Number(decision.estimatedCostUsd.toFixed(8)),
      constitutional_hash: CONSTITUTIONAL_HASH,
    },
    200,
    decisionHeaders(decision),
  );
}
