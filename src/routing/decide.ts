/** The routing decision for one request: score → tier → model → fallbacks. Pure. */
import { type CanonicalRequest, requestedOutputTokens } from "../canonical/request.ts";
import { ApiError } from "../http/errors.ts";
import { type Affinity, chooseAffinity, observedAffinity, type SessionView } from "./affinity.ts";
import { catalogModelNamed, embeds, type NamedModel, noDearer } from "./catalog.ts";
import { sentPrompt } from "./estimate.ts";
import type { RouterModel } from "./model.ts";
import { type Demand, familyFirst, NO_HEALTH, pickModel, type RoutingHealth, sameFamily, unfitReason } from "./pick.ts";
import { type Capability, costUsd, findModel, type Model, TIER_NAMES, type Tier } from "./registry.ts";
import { type Feature, scoreComplexity } from "./score.ts";
import type { Strategy } from "./strategy.ts";
import { forEachText } from "./text.ts";
import type { Thresholds } from "./thresholds.ts";
import { selectTier } from "./tier.ts";

export type Decision = {
  /** How the client named the model: the router chose, a tier was forced, or a model was named. */
  mode: "auto" | "tier" | "model";
  tier: Tier;
  score: number;
  model: Model;
  features: Feature[];
  /** The scorer's full feature vector and the model version behind the score, for the audit row. */
  vector: Float64Array;
  modelVersion: string;
  reasons: string[];
  fallbacks: Model[];
  /** The prompt as sent, estimated (routing/estimate.ts): what a reservation and a context window count. */
  promptTokens: number;
  /** Images in the prompt (each estimated at routing/estimate.ts's IMAGE_TOKENS). */
  images: number;
  /** The most tokens the answer may write, over every one of `n` choices (the request's limit, or ESTIMATED_OUTPUT_TOKENS). */
  outputTokens: number;
  /** Prompt and output tokens, over every one of `n` choices: what a tokens-per-minute limit is debited before the call. */
  estimatedTokens: number;
  estimatedCostUsd: number;
  /** What the turn did to its session (routing/affinity.ts); unset without a session, or with SESSION_AFFINITY=off. */
  affinity?: Affinity;
  /** The session's digest (routing/session.ts), set by the engine once the decision is made. */
  session?: string;
};

const TIER_PATTERN = /^tier:([1-5])$/;

/** What a decision reads of the config (config/env.ts's Config has all of it). */
export type RoutingConfig = {
  registry: readonly Model[];
  routerModel: RouterModel;
  thresholds: Thresholds;
  strategies: Readonly<Record<Tier, Strategy>>;
  /** Whether each provider has what it needs to be called. */
  providers: ReadonlyMap<string, { configured: boolean; credentialOwner?: string }>;
  estimatedOutputTokens: number;
  maxChoices: number;
  maxOutputTokens: number;
};

/**
 * What a client key may use: the highest tier, and the models it may name or be routed to (null: any);
 * and, for a name routed as `auto` (an alias), the catalog model it names, which routing costs no more than.
 */
export type KeyPolicy = {
  maxTier: number | null;
  models: readonly string[] | null;
  noDearerThan?: NamedModel | undefined;
  /** What set `maxTier`, in the reason header's words (default "the key"; an alias's cap says so). */
  maxTierBy?: string;
};

/**
 * Decides where a validated chat request goes, around the circuits `health` says are open.
 * A name the registry lacks and the catalog knows (`gpt-3.5-turbo`) is routed as `auto` among the
 * models no dearer than it, so capped at the highest tier that has one. With a `session`
 * whose affinity steers, a routed turn may stay on the model that holds the session's
 * cache (routing/affinity.ts).
 * @throws ApiError 404 for a model neither the registry nor the catalog knows, or one every
 * model is dearer than; 400 when no model can serve the request; 503 when the models that
 * could are all behind open circuits.
 */
export function decide(
  request: CanonicalRequest,
  config: RoutingConfig,
  policy: KeyPolicy = { maxTier: null, models: null },
  health: RoutingHealth = NO_HEALTH,
  session?: SessionView,
): Decision {
  enforceCaps(request, config);
  const complexity = scoreComplexity(request, config.routerModel);
  const allowed = (model: Model): boolean =>
    (policy.maxTier === null || model.tier <= policy.maxTier) && (policy.models === null || policy.models.includes(model.id));
  const prompt = sentPrompt(request, complexity.promptTokens);
  const demand = demandOf(request, prompt.tokens, config.estimatedOutputTokens);
  const isConfigured = (model: Model): boolean => config.providers.get(model.provider)?.configured === true;
  const forced = TIER_PATTERN.exec(request.model);
  const scoredTier = selectTier(complexity.score, config.thresholds);
  const reasons = [explainFeatures(complexity.features)];

  const registered = request.model === "auto" || forced ? undefined : findModel(config.registry, request.model, isConfigured);
  const known = registered === undefined && request.model !== "auto" && !forced ? chatModelNamed(request.model) : policy.noDearerThan;
  // A name the catalog knows is routed only among the models no dearer than the model it names.
  const affordable = known === undefined ? config.registry : config.registry.filter((model) => noDearer(model, known.prices));
  const cap = known === undefined ? undefined : priceCap(known, affordable);

  let mode: Decision["mode"];
  let tier: Tier;
  let model: Model;
  let fallbacks: Model[];
  let affinity: Affinity | undefined;
  if (request.model === "auto" || forced || cap !== undefined) {
    mode = forced ? "tier" : "auto";
    let wanted = forced ? (Number(forced[1]) as Tier) : scoredTier;
    if (cap !== undefined) reasons.unshift(cap.reason);
    if (policy.maxTier !== null && wanted > policy.maxTier) {
      if (forced) throw notAllowed(`tier ${wanted} is above this key's highest tier, ${policy.maxTier}`, "tier_not_allowed");
      reasons.push(`score ${complexity.score} gives tier ${wanted}, capped at tier ${policy.maxTier} by ${policy.maxTierBy ?? "the key"}`);
      wanted = policy.maxTier as Tier;
    } else {
      reasons.push(
        forced
          ? `tier ${wanted} forced by the request (the score alone gives tier ${scoredTier})`
          : `score ${complexity.score} gives tier ${wanted} (${TIER_NAMES[wanted]})`,
      );
    }
    if (cap !== undefined && wanted > cap.tier) wanted = cap.tier;
    const usable = affordable.filter(allowed);
    const pick = pickModel(usable, wanted, demand, isConfigured, { health, strategies: config.strategies });
    if (pick === undefined) {
      if (pickModel(usable, wanted, demand, isConfigured) !== undefined) throw allCircuitsOpen(wanted, health);
      if (usable.length < affordable.length && pickModel(affordable, wanted, demand, isConfigured) !== undefined) {
        throw notAllowed("no model this key may use can serve the request", "model_not_allowed");
      }
      throw noModelFits(demand, affordable);
    }
    ({ tier, model, fallbacks } = pick);
    reasons.push(...pick.reasons);
    if (session?.steers === true && !forced) {
      // A session's model stays only where this turn may be routed: a name the catalog caps is never served dearer.
      const warm = session.remembered === undefined ? undefined : affordable.find((entry) => entry.id === session.remembered?.model);
      const choice = chooseAffinity({
        view: session,
        pick: { model, tier },
        warm,
        unfit: warm === undefined ? undefined : whyNotKept(warm, allowed(warm), demand, health, isConfigured(warm)),
        // The gate weighs what the turn is expected to cost: an answer of the usual length, not the ceiling max_tokens
        // sets (Claude Code asks for 32,000 on every turn), which would price every move by output it never writes.
        tokens: { promptTokens: demand.promptTokens, outputTokens: Math.min(demand.outputTokens, config.estimatedOutputTokens) * (request.n ?? 1) },
      });
      // Beside the tier's reason, so a long list of skipped models never cuts it from the header.
      reasons.splice(2, 0, choice.reason);
      affinity = choice.affinity;
      if (choice.keep !== undefined && choice.keep !== model) {
        const kept = choice.keep;
        // Should the session's model fail, the plan goes on as if its tier had been chosen.
        const behind = pickModel(usable, kept.tier, demand, isConfigured, { health, strategies: config.strategies });
        fallbacks =
          behind === undefined
            ? []
            : familyFirst(
                kept,
                [behind.model, ...behind.fallbacks].filter((entry) => entry.id !== kept.id),
              );
        ({ tier } = kept);
        model = kept;
      }
    }
  } else {
    mode = "model";
    const named = registered;
    if (named === undefined) {
      throw new ApiError(404, `The model '${request.model}' is not in the registry; use "auto", "tier:1".."tier:5" or an id from GET /v1/models`, {
        code: "model_not_found",
        param: "model",
      });
    }
    if (!allowed(named)) throw notAllowed(`this key may not use the model '${named.id}'`, "model_not_allowed");
    const unfit = unfitReason(named, demand);
    if (unfit !== undefined) {
      throw new ApiError(400, `The model '${named.id}' cannot serve this request: ${unfit}`, {
        code: "model_cannot_serve",
        param: "model",
      });
    }
    // A named model is never swapped for another, but the same model at another provider may answer for it.
    const family = sameFamily(named, config.registry.filter(allowed), demand, health, isConfigured);
    const blocked = health.blocked(named);
    const stand = family.find(isConfigured);
    if (blocked !== undefined && stand === undefined) {
      throw new ApiError(503, `The model '${named.id}' is not taking requests right now (${blocked}); name "auto" or a tier to be routed around it`, {
        type: "upstream_error",
        code: "model_unavailable",
        param: "model",
        headers: { "retry-after": String(health.retryAfterSeconds()) },
      });
    }
    model = blocked === undefined || stand === undefined ? named : stand;
    ({ tier } = model);
    fallbacks = family.filter((entry) => entry !== model);
    reasons.push(
      model === named
        ? `model ${named.id} named by the request`
        : `model ${named.id} named by the request (${blocked}): the same model at ${model.provider} serves`,
    );
  }
  if (!isConfigured(model)) reasons.push(`provider ${model.provider} is not configured`);
  if (session?.steers === true && affinity === undefined) affinity = observedAffinity(session.remembered, model);
  return {
    mode,
    tier,
    score: complexity.score,
    model,
    features: complexity.features,
    vector: complexity.vector,
    modelVersion: complexity.modelVersion,
    reasons,
    fallbacks,
    promptTokens: demand.promptTokens,
    images: prompt.images,
    outputTokens: demand.outputTokens * (request.n ?? 1),
    estimatedTokens: demand.promptTokens + demand.outputTokens * (request.n ?? 1),
    // Each of the n choices is written, and billed, separately.
    estimatedCostUsd: costUsd(model, demand.promptTokens, demand.outputTokens * (request.n ?? 1)),
    ...(affinity === undefined ? {} : { affinity }),
  };
}

/** The catalog's chat model a bare name means, if the catalog knows one (an embedding model cannot chat). */
function chatModelNamed(name: string): NamedModel | undefined {
  const known = catalogModelNamed(name);
  return known === undefined || embeds(known) ? undefined : known;
}

/**
 * The highest tier with a model no dearer than the named one, and why routing stops there.
 * @throws ApiError 404 when every model in the registry is dearer.
 */
function priceCap(known: NamedModel, affordable: readonly Model[]): { tier: Tier; reason: string } {
  const shown = known.name.slice(0, 200);
  const price = `$${known.prices.input_usd_per_mtok}/$${known.prices.output_usd_per_mtok} per Mtok`;
  if (affordable.length === 0) {
    throw new ApiError(404, `The model '${shown}' is not in the registry, and every model in it is dearer (${price}); name "auto" or a tier`, {
      code: "model_not_found",
      param: "model",
    });
  }
  const tier = Math.max(...affordable.map((model) => model.tier)) as Tier;
  return { tier, reason: `${shown} is not in the registry: routed as auto, capped at tier ${tier}, no dearer than it (${price})` };
}

/** Why a session's model may not serve this turn, in words that follow its id; undefined when it may. */
function whyNotKept(model: Model, allowed: boolean, demand: Demand, health: RoutingHealth, configured: boolean): string | undefined {
  if (!allowed) return "is not one this key may use";
  const blocked = health.blocked(model);
  if (blocked !== undefined) return `is not taking requests (${blocked})`;
  const unfit = unfitReason(model, demand);
  if (unfit !== undefined) return `cannot serve this turn (${unfit})`;
  return configured ? undefined : `has no configured provider (${model.provider})`;
}

function allCircuitsOpen(tier: Tier, health: RoutingHealth): ApiError {
  return new ApiError(503, `Every model that could serve this request from tier ${tier} up is failing right now (circuits open); retry shortly`, {
    type: "upstream_error",
    code: "no_healthy_model",
    headers: { "retry-after": String(health.retryAfterSeconds()) },
  });
}

function notAllowed(message: string, code: string): ApiError {
  return new ApiError(403, `Not allowed: ${message}`, { code, param: "model" });
}

/** `n` and the output-token limit within the operator's caps (MAX_CHOICES, MAX_OUTPUT_TOKENS). */
function enforceCaps(request: CanonicalRequest, config: RoutingConfig): void {
  if ((request.n ?? 1) > config.maxChoices) {
    throw new ApiError(400, `'n' may be at most ${config.maxChoices} (MAX_CHOICES)`, { code: "invalid_value", param: "n" });
  }
  const output = requestedOutputTokens(request);
  if (output !== undefined && output > config.maxOutputTokens) {
    const param = (request.max_completion_tokens ?? 0) >= (request.max_tokens ?? 0) ? "max_completion_tokens" : "max_tokens";
    throw new ApiError(400, `'${param}' may be at most ${config.maxOutputTokens} (MAX_OUTPUT_TOKENS)`, { code: "invalid_value", param });
  }
}

function demandOf(request: CanonicalRequest, promptTokens: number, estimatedOutput: number): Demand {
  const capabilities = new Set<Capability>();
  if (request.tools && request.tools.length > 0) capabilities.add("tools");
  const format = request.response_format?.type;
  if (format === "json_object" || format === "json_schema") capabilities.add("json");
  if (request.stream) capabilities.add("streaming");
  forEachText(
    request.messages,
    () => {},
    () => capabilities.add("vision"),
  );
  const requested = requestedOutputTokens(request);
  return {
    promptTokens,
    outputTokens: requested ?? estimatedOutput,
    reservedOutputTokens: requested ?? 0,
    capabilities: [...capabilities],
  };
}

/** The three strongest features, in words: "proof or derivation request, mathematics, prompt length (60 tokens)". */
function explainFeatures(features: readonly Feature[]): string {
  const strongest = features.filter((feature) => feature.contribution > 0.05).slice(0, 3);
  const weakest = features.filter((feature) => feature.contribution < -0.05);
  const parts = strongest.map((feature) => feature.label);
  if (weakest.length > 0) parts.push(`lowered by: ${weakest.map((feature) => feature.label).join(", ")}`);
  return parts.length === 0 ? "no strong signal" : parts.join(", ");
}

function noModelFits(demand: Demand, registry: readonly Model[]): ApiError {
  const largest = Math.max(...registry.map((model) => model.context_window));
  const needs = demand.capabilities.length > 0 ? ` with ${demand.capabilities.join(", ")}` : "";
  return new ApiError(
    400,
    `No model in the registry can serve this request${needs}: it needs about ${demand.promptTokens + demand.reservedOutputTokens} tokens of context; the largest window is ${largest}`,
    { code: "no_model_fits", param: "messages" },
  );
}
