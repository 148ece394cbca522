/** The scorer's weights: a bias, one weight per named feature, and each question shape's own adjustments. */
import { FEATURES, SHAPE_FEATURE } from "./features.ts";
import { hashWord } from "./lexicon.ts";
import { MODEL } from "./model.generated.ts";
import type { SerializedModel } from "./serialized-model.ts";
import { SHAPES } from "./shape.ts";

export type RouterModel = {
  /** Which model decided, as the audit row records it: "builtin:" and a hash of its weights. */
  version: string;
  bias: number;
  /** In FEATURES order; a feature the model does not name keeps its hand-set prior. */
  featureWeights: Float64Array;
  /** The weights a question of each shape is scored with, in SHAPES order (plain's are `featureWeights`), each keeping its feature's sign. */
  shapeWeights: Float64Array[];
};

export function decodeModel(model: SerializedModel, source = "builtin"): RouterModel {
  const featureWeights = Float64Array.from(FEATURES, (feature) => model.features[feature.name] ?? feature.prior);
  const shapeWeights = SHAPES.map((shape) =>
    shape === "plain" ? featureWeights : withinSign(featureWeights.map((w, i) => w + (model.shapes?.[shape]?.[FEATURES[i]!.name] ?? 0))),
  );
  const text = [model.bias, ...shapeWeights.map((weights) => weights.join(","))].join("|");
  // The lexicon's FNV-1a: a label for a set of weights, not a security hash.
  return { version: `${source}:${hashWord(text).toString(16).padStart(8, "0")}`, bias: model.bias, featureWeights, shapeWeights };
}

/** A weight whose sign is fixed is never on the other side of zero. */
function withinSign(weights: Float64Array): Float64Array {
  for (let i = 0; i < weights.length; i++) if (weights[i]! * FEATURES[i]!.sign < 0) weights[i] = 0;
  return weights;
}

/** A feature vector's shape, as an index into SHAPES: the shape whose indicator is 1, else plain (0). */
export function shapeIndexOf(values: ArrayLike<number>): number {
  for (let s = 1; s < SHAPES.length; s++) if (values[SHAPE_FEATURE[s]!] === 1) return s;
  return 0;
}

/** The weights that score a feature vector: its shape's. */
export const weightsFor = (model: RouterModel, values: ArrayLike<number>): Float64Array => model.shapeWeights[shapeIndexOf(values)]!;

export const DEFAULT_MODEL: RouterModel = decodeModel(MODEL);

/** The calibrated thresholds of the shipped model, as TIER_THRESHOLDS text. */
export const DEFAULT_THRESHOLDS = (MODEL.thresholds ?? [0.12, 0.3, 0.55, 0.78]).join(",");
