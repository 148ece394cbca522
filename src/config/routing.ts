/** Settings of how a request is routed (the scoring model, aliases, tier cut points and strategies, session affinity), and what they make. */
import * as z from "zod";
import { type Alias, AliasesSchema, parseAliases } from "../routing/aliases.ts";
import { FEATURES } from "../routing/features.ts";
import { DEFAULT_MODEL, DEFAULT_THRESHOLDS, decodeModel, type RouterModel } from "../routing/model.ts";
import { TIERS, type Tier } from "../routing/registry.ts";
import { SHAPES } from "../routing/shape.ts";
import type { Strategy } from "../routing/strategy.ts";
import { biasThresholds, parseThresholds, type Thresholds, ThresholdsSchema } from "../routing/thresholds.ts";
import { jsonSetting } from "./json-setting.ts";

const FeatureWeightsSchema = z.record(
  z.string().refine((name) => FEATURES.some((feature) => feature.name === name), "is not a feature of this version (src/routing/features.ts)"),
  z.number(),
);
/** A routing model as `npm run train:router` writes it; every feature it names must be one this version computes. */
const RouterModelSchema = z.object({
  bias: z.number(),
  features: FeatureWeightsSchema,
  shapes: z.partialRecord(z.enum(SHAPES.filter((shape) => shape !== "plain")), FeatureWeightsSchema).optional(),
  thresholds: ThresholdsSchema.optional(),
  provenance: z.string(),
});

export const RoutingSettings = z.object({
  /**
   * A routing model in place of the shipped one (`npm run train:router -- --from-audit` writes one); its
   * thresholds become the default tier cut points. A bad one is reported in /health and the shipped model kept.
   */
  MODEL_JSON: jsonSetting(RouterModelSchema).optional(),
  /**
   * Model names a client may send for the router's own, a JSON object of `{"<name, * any run of characters>":
   * "auto" | "tier:N" | "<registry id>" | {"model", "max_tier"}}`, matched before the defaults (`claude-*haiku*`:
   * auto, at most tier 2; `claude-*`: auto). See docs/api.md.
   */
  MODEL_ALIASES: jsonSetting(AliasesSchema).optional(),
  /**
   * Four increasing cut points in (0, 1) between tiers 1|2|3|4|5, comma-separated. Default: the thresholds
   * calibrated with the routing model (MODEL_JSON's, else src/routing/model.generated.ts's; see bench/ROUTING.md).
   */
  TIER_THRESHOLDS: z.string().optional(),
  /**
   * One setting that shifts the whole cost/quality curve: every cut point moves down by this much (-1 to 1).
   * Positive: more prompts to higher tiers (better, dearer); negative: cheaper. See bench/ROUTING.md for the curve.
   */
  ROUTER_QUALITY_BIAS: z.coerce.number().min(-1).max(1).default(0),
  /** How a tier picks among its healthy models: {"2":"latency","4":"weighted"}; default "cost" (cheapest first). */
  TIER_STRATEGIES: jsonSetting(z.partialRecord(z.enum(["1", "2", "3", "4", "5"]), z.enum(["cost", "latency", "weighted"]))).optional(),
  /**
   * on: a turn of a session stays on the model that holds its prompt cache (tool-result continuations always; new user
   * turns unless a harder turn or the cache-regret gate moves them; docs/sessions.md). off: every turn is routed on its own.
   */
  SESSION_AFFINITY: z.enum(["on", "off"]).default("on"),
});

export type RoutingConfig = {
  /** The scorer's weights: the shipped model, or MODEL_JSON's. */
  routerModel: RouterModel;
  /** Names clients send for the router's models (routing/aliases.ts). */
  aliases: readonly Alias[];
  thresholds: Thresholds;
  strategies: Readonly<Record<Tier, Strategy>>;
  /** SESSION_AFFINITY: whether a session's remembered model steers its turns. */
  sessionAffinity: boolean;
};

export function routingConfig(env: z.infer<typeof RoutingSettings>): RoutingConfig {
  return {
    routerModel: env.MODEL_JSON === undefined ? DEFAULT_MODEL : decodeModel(env.MODEL_JSON, "custom"),
    aliases: parseAliases(env.MODEL_ALIASES),
    thresholds: biasThresholds(parseThresholds(env.TIER_THRESHOLDS ?? env.MODEL_JSON?.thresholds?.join(",") ?? DEFAULT_THRESHOLDS), env.ROUTER_QUALITY_BIAS),
    strategies: Object.fromEntries(TIERS.map((tier) => [tier, env.TIER_STRATEGIES?.[String(tier) as "1"] ?? "cost"])) as Record<Tier, Strategy>,
    sessionAffinity: env.SESSION_AFFINITY === "on",
  };
}
