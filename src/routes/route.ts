/** POST /v1/route: the routing decision alone, with no provider call and no cost. */
import type { Context } from "hono";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { decisionOutcome } from "../engine/decision.ts";
import { outcomeHeaders } from "../engine/headers.ts";
import type { OutcomeVariables } from "../engine/outcome.ts";
import { planOf, reservationMicros } from "../engine/plan.ts";
import { inTenantView } from "../engine/tenant-view.ts";
import { asApiError } from "../http/errors.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";
import { chatCompletionsSurface } from "../surfaces/chat-completions/index.ts";

export async function routeOnly(c: Context<With<KeyVariables & OutcomeVariables>>): Promise<Response> {
  // Decided as a chat request of this caller would be: on its tenant's view of the providers (engine/tenant-view.ts).
  const services = await inTenantView(c.get("services"), c.get("caller"));
  const { config } = services;
  const { request } = await chatCompletionsSurface.parse(c.req.raw, config);
  const outcome = await decisionOutcome(services, request, c.get("caller"), c.req.raw.headers, (work) => c.executionCtx.waitUntil(work));
  c.set("outcome", outcome);
  const { decision, error } = outcome;
  if (decision === undefined) throw error ?? asApiError(new Error("no decision and no error"));
  return c.json(
    {
      tier: decision.tier,
      score: decision.score,
      model: decision.model.id,
      provider: decision.model.provider,
      provider_configured: config.providers.get(decision.model.provider)?.configured === true,
      mode: decision.mode,
      // The session's digest (never the id it came from) and what this turn would do to it (null: SESSION_AFFINITY=off).
      session: decision.session ?? null,
      affinity: decision.affinity ?? null,
      features: decision.features,
      reasons: decision.reasons,
      fallbacks: decision.fallbacks.map((model) => ({ model: model.id, provider: model.provider, tier: model.tier })),
      estimated_prompt_tokens: decision.promptTokens,
      estimated_cost_usd: Number(decision.estimatedCostUsd.toFixed(8)),
      // What a budget reserves for it before the call: the estimate at the dearest model it may fall back to.
      reserved_usd: reservationMicros(planOf(decision, config), decision, request) / 1e6,
      constitutional_hash: CONSTITUTIONAL_HASH,
    },
    200,
    await outcomeHeaders(outcome),
  );
}
