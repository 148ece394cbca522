/**
 * How a tier orders its healthy models: cost-first (cheapest first), latency-first
 * (the faster of two drawn at random, over each model's latency EWMA: "power of two
 * choices", which spreads load without herding onto one model), or weighted (a draw
 * by each model's `weight`). Pure: randomness and latency are passed in.
 */
import type { Model } from "./registry.ts";

export type Ordering = { models: Model[]; reason: string | undefined };

/** How a tier picks among its healthy models: cheapest first, faster of two, or a weighted draw. */
export type Strategy = "cost" | "latency" | "weighted";

export type StrategyInputs = {
  latencyMs(model: Model): number | undefined;
  random(): number;
};

/**
 * Orders `models` (already sorted cheapest first) by the strategy: the first is the
 * pick, the rest are its fallbacks, cheapest first. The reason says why the pick won.
 */
export function orderByStrategy(models: Model[], strategy: Strategy, inputs: StrategyInputs): Ordering {
  if (models.length < 2 || strategy === "cost") return { models, reason: undefined };
  const chosen = strategy === "latency" ? fasterOfTwo(models, inputs) : weightedDraw(models, inputs);
  return { models: [chosen.model, ...models.filter((model) => model !== chosen.model)], reason: chosen.reason };
}

function fasterOfTwo(models: Model[], { latencyMs, random }: StrategyInputs): { model: Model; reason: string } {
  const first = Math.floor(random() * models.length);
  const second = (first + 1 + Math.floor(random() * (models.length - 1))) % models.length;
  const a = models[first]!;
  const b = models[second]!;
  const [la, lb] = [latencyMs(a), latencyMs(b)];
  const shown = (ms: number | undefined): string => (ms === undefined ? "no latency yet" : `${Math.round(ms)} ms`);
  // A model with no latency yet wins its draw: it gets measured, then judged.
  const aWins = la === undefined || (lb !== undefined && la <= lb);
  const [winner, loser, lw, ll] = aWins ? [a, b, la, lb] : [b, a, lb, la];
  return { model: winner, reason: `latency-first: ${winner.id} (${shown(lw)}) beat ${loser.id} (${shown(ll)}) in a draw of two` };
}

function weightedDraw(models: Model[], { random }: StrategyInputs): { model: Model; reason: string } {
  const total = models.reduce((sum, model) => sum + (model.weight ?? 1), 0);
  let point = random() * total;
  const model =
    models.find((candidate) => {
      point -= candidate.weight ?? 1;
      return point < 0;
    }) ?? models[models.length - 1]!;
  return { model, reason: `weighted: ${model.id} drawn with weight ${model.weight ?? 1} of ${total}` };
}
