/** The scorer's weights: a bias and one weight per named feature. */
import { FEATURES } from "./features.ts";
import { MODEL } from "./model.generated.ts";

/** The form `npm run train:router` writes into model.generated.ts. */
export type SerializedModel = {
  bias: number;
  /** Weight per feature name (src/routing/features.ts). */
  features: Record<string, number>;
  /** Default tier cut points, calibrated on the cost/quality data (TIER_THRESHOLDS overrides them). */
  thresholds?: [number, number, number, number];
  /** How it was made: data files, seed, settings. */
  provenance: string;
};

export type RouterModel = {
  /** Which model decided, as the audit row records it: "builtin:" and a hash of its weights. */
  version: string;
  bias: number;
  /** In FEATURES order; a feature the model does not name keeps its hand-set prior. */
  featureWeights: Float64Array;
};

export function decodeModel(model: SerializedModel, source = "builtin"): RouterModel {
  const featureWeights = Float64Array.from(FEATURES, (feature) => model.features[feature.name] ?? feature.prior);
  return { version: `${source}:${fnv1a(`${model.bias}|${featureWeights.join(",")}`)}`, bias: model.bias, featureWeights };
}

/** FNV-1a, 32 bits, as hex: a version label for a set of weights (not a security hash). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}

export const DEFAULT_MODEL: RouterModel = decodeModel(MODEL);

/** The calibrated thresholds of the shipped model, as TIER_THRESHOLDS text. */
export const DEFAULT_THRESHOLDS = (MODEL.thresholds ?? [0.12, 0.3, 0.55, 0.78]).join(",");
