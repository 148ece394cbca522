/**
 * Model pick: among the tier's models that can serve the request and whose circuits
 * are not open, the one its strategy prefers (by default the cheapest), escalating
 * when none can.
 */
import { type Capability, costUsd, familyOf, type Model, TIER_NAMES, TIERS, type Tier } from "./registry.ts";
import { orderByStrategy, type Strategy } from "./strategy.ts";

/** What the pick asks of the shared health state; passed in, so the pick stays pure. */
export type RoutingHealth = {
  /** Why the model may not be tried now (its circuit or its provider's is open), or `undefined`. */
  blocked(model: Model): string | undefined;
  latencyMs(model: Model): number | undefined;
  random(): number;
  /** Seconds until the soonest open circuit lets a trial through: a refused client's Retry-After. */
  retryAfterSeconds(): number;
};

/** Every model healthy, no latency known: routing as if there were no breakers. */
export const NO_HEALTH: RoutingHealth = { blocked: () => undefined, latencyMs: () => undefined, random: Math.random, retryAfterSeconds: () => 1 };

export type Choice = { health: RoutingHealth; strategies: Readonly<Record<Tier, Strategy>> };
const COST_FIRST: Choice = { health: NO_HEALTH, strategies: { 1: "cost", 2: "cost", 3: "cost", 4: "cost", 5: "cost" } };

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
 * Picks among `tier`'s models that fit the demand and are not blocked by a circuit,
 * preferring configured providers, then the tier's strategy (cost-first: the lowest
 * estimated cost, then registry order). Escalates tier by tier when none fits;
 * returns `undefined` when no tier from `tier` up can serve.
 */
export function pickModel(
  registry: readonly Model[],
  tier: Tier,
  demand: Demand,
  isConfigured: (model: Model) => boolean,
  { health, strategies }: Choice = COST_FIRST,
): Pick | undefined {
  const reasons: string[] = [];
  const ranked: Model[] = [];
  let served: Tier | undefined;
  for (const candidateTier of TIERS.filter((t) => t >= tier)) {
    const able = registry.filter((model) => model.tier === candidateTier && unfitReason(model, demand) === undefined);
    const healthy = able.filter((model) => {
      // An unconfigured provider's model is never called (the plan leaves it out): its circuit is not read.
      const blocked = isConfigured(model) ? health.blocked(model) : undefined;
      if (blocked !== undefined && served === undefined) reasons.push(`skipped ${model.id}: ${blocked}`);
      return blocked === undefined;
    });
    const fitting = rank(healthy, demand, isConfigured, strategies[candidateTier], health);
    if (fitting.models.length === 0 && served === undefined) {
      if (able.length === 0) reasons.push(`no tier ${candidateTier} (${TIER_NAMES[candidateTier]}) model fits: ${why(registry, candidateTier, demand)}`);
      continue;
    }
    if (served === undefined && candidateTier !== tier) reasons.push(`escalated to tier ${candidateTier}`);
    if (served === undefined && fitting.reason !== undefined) reasons.push(fitting.reason);
    served ??= candidateTier;
    ranked.push(...fitting.models);
  }
  const [model, ...rest] = ranked;
  if (model === undefined || served === undefined) return undefined;
  return { model, tier: served, fallbacks: familyFirst(model, rest), reasons };
}

/**
 * `fallbacks` with `model`'s family first, each part in its order: when a provider fails, the
 * same model at another provider answers before a different model does, so quality holds.
 */
export function familyFirst(model: Model, fallbacks: readonly Model[]): Model[] {
  const family = familyOf(model);
  const same = fallbacks.filter((entry) => familyOf(entry) === family);
  return same.length === 0 ? [...fallbacks] : [...same, ...fallbacks.filter((entry) => familyOf(entry) !== family)];
}

/**
 * The fallbacks of a model the request named: the same family at other providers, those
 * that fit the demand and are not blocked, configured and cheapest first.
 */
export function sameFamily(
  named: Model,
  registry: readonly Model[],
  demand: Demand,
  health: { blocked: RoutingHealth["blocked"] },
  isConfigured: (model: Model) => boolean,
): Model[] {
  const family = familyOf(named);
  const cost = (model: Model): number => costUsd(model, demand.promptTokens, demand.outputTokens);
  return registry
    .filter((model) => model.id !== named.id && familyOf(model) === family && unfitReason(model, demand) === undefined && health.blocked(model) === undefined)
    .map((model, order) => ({ model, order, configured: isConfigured(model) ? 0 : 1, cost: cost(model) }))
    .sort((a, b) => a.configured - b.configured || a.cost - b.cost || a.order - b.order)
    .map((entry) => entry.model);
}

/** Configured providers first, cheapest first; then the strategy chooses among the configured ones. */
function rank(models: Model[], demand: Demand, isConfigured: (model: Model) => boolean, strategy: Strategy, health: RoutingHealth) {
  const cost = (model: Model): number => costUsd(model, demand.promptTokens, demand.outputTokens);
  const sorted = models
    .map((model, order) => ({ model, order, configured: isConfigured(model) ? 0 : 1, cost: cost(model) }))
    .sort((a, b) => a.configured - b.configured || a.cost - b.cost || a.order - b.order)
    .map((entry) => entry.model);
  const configured = sorted.filter(isConfigured);
  const ordered = orderByStrategy(configured, strategy, health);
  return { models: [...ordered.models, ...sorted.filter((model) => !isConfigured(model))], reason: ordered.reason };
}

function why(registry: readonly Model[], tier: Tier, demand: Demand): string {
  const reasons = registry.filter((model) => model.tier === tier).map((model) => unfitReason(model, demand));
  if (reasons.length === 0) return "the tier has no models";
  return [...new Set(reasons)].join("; ");
}
