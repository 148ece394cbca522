/**
 * Logistic regression for the scorer, over the worker's own named features, each
 * weight kept to its sign so explanations stay monotone. Soft targets, AdaGrad,
 * L2, a seeded order, each training file weighted equally. A feature no training
 * prompt shows keeps its hand-set prior.
 */
import type { ChatRequest } from "../../src/openai/chat-request.ts";
import { FEATURES } from "../../src/routing/features.ts";
import type { SerializedModel } from "../../src/routing/model.ts";
import { featureVector } from "../../src/routing/score.ts";
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
  start?: { bias: number; featureWeights: Float64Array };
};
export const TRAINING: TrainOptions = { epochs: 8, learningRate: 0.1, l2: 1e-5, seed: 20_261_126 };

/** The feature values of a prompt sent as one user message, as the worker computes them. */
export function vectorize(prompt: string): Float64Array {
  return featureVector({ model: "auto", messages: [{ role: "user", content: prompt }] } as ChatRequest).values;
}

export type TrainingSet = { vectors: Float64Array[]; targets: number[]; files: string[] };

export function train(set: TrainingSet, provenance: string, options: TrainOptions = TRAINING): SerializedModel {
  const { epochs, learningRate, l2 } = options;
  const n = set.vectors.length;
  const perFile = new Map<string, number>();
  for (const file of set.files) perFile.set(file, (perFile.get(file) ?? 0) + 1);
  const share = (file: string): number => options.fileWeights?.[file] ?? 1;
  const shares = [...perFile.keys()].reduce((sum, file) => sum + share(file), 0);
  const weightOf = set.files.map((file) => (n * share(file)) / (shares * perFile.get(file)!));
  const seen = FEATURES.map((_, k) => set.vectors.some((v) => v[k] !== 0));
  const w = options.start ? Float64Array.from(options.start.featureWeights) : Float64Array.from(FEATURES, (f) => f.prior);
  const acc = new Float64Array(FEATURES.length + 1).fill(1e-8);
  let bias = options.start?.bias ?? 0;
  const random = seeded(options.seed);
  const order = Array.from({ length: n }, (_, i) => i);

  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const e of order) {
      const v = set.vectors[e]!;
      let z = bias;
      for (let k = 0; k < w.length; k++) z += w[k]! * v[k]!;
      const grad = weightOf[e]! * (1 / (1 + Math.exp(-z)) - set.targets[e]!);
      acc[w.length]! += grad * grad;
      bias -= (learningRate * grad) / Math.sqrt(acc[w.length]!);
      for (let k = 0; k < w.length; k++) {
        if (!seen[k]) continue;
        const gk = grad * v[k]! + l2 * w[k]!;
        if (gk === 0) continue;
        acc[k]! += gk * gk;
        w[k] = w[k]! - (learningRate * gk) / Math.sqrt(acc[k]!);
        if (w[k]! * FEATURES[k]!.sign < 0) w[k] = 0; // keep each feature's sign
      }
    }
  }
  return { bias: round(bias), features: Object.fromEntries(FEATURES.map((f, k) => [f.name, round(w[k]!)])), provenance };
}

const round = (x: number): number => Math.round(x * 1e5) / 1e5;
