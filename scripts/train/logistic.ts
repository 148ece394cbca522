/**
 * Logistic regression for the scorer, over the worker's own named features, each
 * weight kept to its sign so explanations stay monotone, plus each question shape's
 * adjustments to those weights (held to the same signs, and pulled towards none
 * harder than the shared weights are, so a shape moves off them only where its
 * questions say so). Soft targets, AdaGrad, L2, a seeded order, each training file
 * weighted equally. A feature no training prompt shows keeps its hand-set prior.
 */
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { FEATURES, SHAPE_FEATURE } from "../../src/routing/features.ts";
import { type RouterModel, shapeIndexOf } from "../../src/routing/model.ts";
import { featureVector } from "../../src/routing/score.ts";
import type { SerializedModel } from "../../src/routing/serialized-model.ts";
import { SHAPES } from "../../src/routing/shape.ts";
import { seeded } from "../seeded-random.ts";

/**
 * `fileWeights`: how many ordinary files one file counts as (default 1: each file weighs the same).
 * `start`: the weights to start from (default: each feature's hand-set prior and a zero bias).
 */
export type TrainOptions = {
  epochs: number;
  learningRate: number;
  l2: number;
  seed: number;
  fileWeights?: Record<string, number>;
  start?: Pick<RouterModel, "bias" | "featureWeights" | "shapeWeights">;
};
export const TRAINING: TrainOptions = { epochs: 8, learningRate: 0.1, l2: 1e-5, seed: 20_261_126 };
/** The pull of a shape's adjustments towards none: ten times the shared weights'. */
const SHAPE_L2 = 1e-4;

/** The feature values of a prompt sent as one user message, as the worker computes them. */
export function vectorize(prompt: string): Float64Array {
  return featureVector({ model: "auto", messages: [{ role: "user", content: prompt }] } as CanonicalRequest).values;
}

export type TrainingSet = { vectors: Float64Array[]; targets: number[]; files: string[] };

export function train(set: TrainingSet, provenance: string, options: TrainOptions = TRAINING): SerializedModel {
  const { epochs, learningRate, l2 } = options;
  const n = set.vectors.length;
  const F = FEATURES.length;
  const perFile = new Map<string, number>();
  for (const file of set.files) perFile.set(file, (perFile.get(file) ?? 0) + 1);
  const share = (file: string): number => options.fileWeights?.[file] ?? 1;
  const shares = [...perFile.keys()].reduce((sum, file) => sum + share(file), 0);
  const weightOf = set.files.map((file) => (n * share(file)) / (shares * perFile.get(file)!));
  const seen = FEATURES.map((_, k) => set.vectors.some((v) => v[k] !== 0));
  const w = options.start ? Float64Array.from(options.start.featureWeights) : Float64Array.from(FEATURES, (f) => f.prior);
  // adjust[s][k]: what shape s adds to feature k's weight (plain, s = 0, adds nothing); a shape's own indicator is a shared weight.
  const adjust = SHAPES.map((_, s) => (options.start && s > 0 ? options.start.shapeWeights[s]!.map((x, k) => x - w[k]!) : new Float64Array(F)));
  const adjustable = FEATURES.map((_, k) => !SHAPE_FEATURE.includes(k));
  const acc = new Float64Array(F + 1).fill(1e-8);
  const adjustAcc = SHAPES.map(() => new Float64Array(F).fill(1e-8));
  let bias = options.start?.bias ?? 0;
  const random = seeded(options.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const shapeOf = set.vectors.map(shapeIndexOf);
  const step = (weights: Float64Array, squares: Float64Array, k: number, gradient: number): void => {
    squares[k]! += gradient * gradient;
    weights[k] = weights[k]! - (learningRate * gradient) / Math.sqrt(squares[k]!);
  };

  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const e of order) {
      const v = set.vectors[e]!;
      const s = shapeOf[e]!;
      const a = adjust[s]!;
      let z = bias;
      for (let k = 0; k < F; k++) z += (w[k]! + a[k]!) * v[k]!;
      const grad = weightOf[e]! * (1 / (1 + Math.exp(-z)) - set.targets[e]!);
      acc[F]! += grad * grad;
      bias -= (learningRate * grad) / Math.sqrt(acc[F]!);
      for (let k = 0; k < F; k++) {
        if (!seen[k]) continue;
        const sign = FEATURES[k]!.sign;
        const gk = grad * v[k]! + l2 * w[k]!;
        if (gk !== 0) step(w, acc, k, gk);
        if (w[k]! * sign < 0) w[k] = 0; // keep each feature's sign
        if (s === 0 || !adjustable[k] || v[k] === 0) continue;
        step(a, adjustAcc[s]!, k, grad * v[k]! + SHAPE_L2 * a[k]!);
        if ((w[k]! + a[k]!) * sign < 0) a[k] = -w[k]!; // and within the shape too
      }
    }
  }
  const features = Object.fromEntries(FEATURES.map((f, k) => [f.name, round(w[k]!)]));
  // A shape's adjustments, those that are not zero.
  const adjustments = (a: Float64Array) => Object.fromEntries(FEATURES.flatMap((f, k) => (round(a[k]!) === 0 ? [] : [[f.name, round(a[k]!)]])));
  const shapes = Object.fromEntries(SHAPES.slice(1).map((shape, s) => [shape, adjustments(adjust[s + 1]!)]));
  return { bias: round(bias), features, shapes, provenance };
}

const round = (x: number): number => Math.round(x * 1e5) / 1e5;
