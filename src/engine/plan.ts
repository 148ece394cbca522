/** The models a request may be sent to, in order, and what a budget reserves for it. */
import type { Config } from "../config/env.ts";
import type { Decision } from "../routing/decide.ts";
import { costMicros, type Model } from "../routing/registry.ts";

/** The decision's pick, then its fallbacks, as far as providers are configured and FALLBACK_MAX_MODELS allows. */
export function planOf(decision: Decision, config: Pick<Config, "providers" | "retry">): Model[] {
  return [decision.model, ...decision.fallbacks].filter((model) => config.providers.get(model.provider)?.configured === true).slice(0, config.retry.maxModels);
}

/** What a budget reserves: the estimate at the dearest model of the plan, so a fallback can never cost more than was reserved. */
export function reservationMicros(plan: readonly Model[], decision: Decision): number {
  return Math.max(0, ...plan.map((model) => costMicros(model, decision.promptTokens, decision.outputTokens)));
}
