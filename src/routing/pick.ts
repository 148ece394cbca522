/** Model pick: the cheapest model of the tier that can serve the request, escalating when none can. */
import { TIERS, TIER_NAMES, type Capability, type Model, type Tier } from "../config/registry.ts";
import { costUsd } from "../providers/usage.ts";

export type Demand = {
  promptTokens: number;
  /** Tokens the answer may take: `max_tokens` if set, else the configured estimate. */
  outputTokens: number;
  /** Tokens that must fit in the context window besides the prompt: `max_tokens` if set, else 0. */
  reservedOutputTokens: number;
  capabilities: readonly Capability[];
};

export type Pick = {
  model: Model;
  /** The tier that serves: the requested one, or a higher one after escalation. */
  tier: Tier;
  /** Models to try next, best first: the rest of the tier, then each tier above. */
  fallbacks: Model[];
  reasons: string[];
};

/** What keeps a model from serving the demand, or `undefined` when it can. */
export function unfitReason(model: Model, demand: Demand): string | undefined {
  const missing = demand.capabilities.filter((capability) => !model.capabilities.includes(capability));
  if (missing.length > 0) return `lacks ${missing.join(", ")}`;
  const needed = demand.promptTokens + demand.reservedOutputTokens;
  if (needed > model.context_window) return `context window ${model.context_window} < ${needed} tokens`;
  return undefined;
}

/**
 * Picks among `tier`'s models that fit the demand, preferring configured providers,
 * then the lowest estimated cost, then registry order. Escalates tier by tier when
 * none fits; returns `undefined` when no tier from `tier` up can serve.
 */
export function pickModel(
  registry: readonly Model[],
  tier: Tier,
  demand: Demand,
  isConfigured: (model: Model) => boolean,
): Pick | undefined {
  const reasons: string[] = [];
  const ranked: Model[] = [];
  let served: Tier | undefined;
  for (const candidateTier of TIERS.filter((t) => t >= tier)) {
    const fitting = rank(
      registry.filter((model) => model.tier === candidateTier && unfitReason(model, demand) === undefined),
      demand,
      isConfigured,
    );
    if (fitting.length === 0 && served === undefined) {
      reasons.push(`no tier ${candidateTier} (${TIER_NAMES[candidateTier]}) model fits: ${why(registry, candidateTier, demand)}`);
      continue;
    }
    if (served === undefined && candidateTier !== tier) reasons.push(`escalated to tier ${candidateTier}`);
    served ??= candidateTier;
    ranked.push(...fitting);
  }
  const [model, ...fallbacks] = ranked;
  if (model === undefined || served === undefined) return undefined;
  return { model, tier: served, fallbacks, reasons };
}

function rank(models: Model[], demand: Demand, isConfigured: (model: Model) => boolean): Model[] {
  const cost = (model: Model): number => costUsd(model, demand.promptTokens, demand.outputTokens);
  return models
    .map((model, order) => ({ model, order, configured: isConfigured(model) ? 0 : 1, cost: cost(model) }))
    .sort((a, b) => a.configured - b.configured || a.cost - b.cost || a.order - b.order)
    .map((entry) => entry.model);
}

function why(registry: readonly Model[], tier: Tier, demand: Demand): string {
  const reasons = registry.filter((model) => model.tier === tier).map((model) => unfitReason(model, demand));
  if (reasons.length === 0) return "the tier has no models";
  return [...new Set(reasons)].join("; ");
}
