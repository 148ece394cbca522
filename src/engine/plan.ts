/** The models a request may be sent to, in order, and what a budget reserves for it. */
import type { CanonicalRequest } from "../canonical/request.ts";
import type { Config } from "../config/env.ts";
import { cacheLifetimeOf, reserveMicros } from "../routing/cost.ts";
import type { Decision } from "../routing/decide.ts";
import type { Model } from "../routing/registry.ts";

/** The decision's pick, then its fallbacks, as far as providers are configured and FALLBACK_MAX_MODELS allows. */
export function planOf(decision: Decision, config: Pick<Config, "providers" | "retry">): Model[] {
  return [decision.model, ...decision.fallbacks].filter((model) => config.providers.get(model.provider)?.configured === true).slice(0, config.retry.maxModels);
}

/**
 * What a budget reserves: the estimate at the dearest model of the plan, so a fallback can
 * never cost more than was reserved, with the prompt at its dearest class (routing/cost.ts:
 * a cache write, for an hour when `request` asks one), so no report of how the provider
 * cached it can cost more either.
 */
export function reservationMicros(plan: readonly Model[], decision: Decision, request: Pick<CanonicalRequest, "messages" | "tools">): number {
  const lifetime = cacheLifetimeOf(request);
  return Math.max(0, ...plan.map((model) => reserveMicros(model, decision.promptTokens, decision.outputTokens, lifetime)));
}
