/**
 * Multi-model cost and quality on RouterBench (11 models, per-prompt cost): the
 * models are put in our five tiers by price; each prompt goes through the real
 * tier selection to the best model of its tier, "best" measured on the other
 * folds only (5-fold cross-validation, seeded). Sweeping the tier cut points
 * traces a cost/quality curve; its AIQ is compared with always-gpt-4,
 * always-cheapest, random routing and the oracle. tiergate's defaults are judged
 * against the fixed tiers fold by fold, made without the fold they route.
 */
import { biasThresholds, type Thresholds } from "../../src/routing/thresholds.ts";
import { selectTier } from "../../src/routing/tier.ts";
import { loadRouterBench, type MultiPrompt, ROUTERBENCH_MODELS } from "../routing-data/data.ts";
import { BASE_CUTS, bestPerTier, type CostQuality, costQuality, type FixedTier, fixedTiersOf, gainOver, priceTiers } from "../routing-data/price-tiers.ts";
import { seeded } from "../seeded-random.ts";
import { aiq } from "./metrics.ts";

/** A way of scoring prompts that the evaluation judges: the higher a prompt's score, the higher its tier. */
export type Scorer = { name: string; score: (prompt: string, id: string) => number };

export type MultiModelResult = {
  prompts: number;
  folds: number;
  tiers: { tier: number; models: string[] }[];
  reference: ({ name: string } & CostQuality)[];
  /** Every prompt to one tier (its best model, as the routers get it): the fixed settings a router must beat. */
  fixedTiers: FixedTier[];
  curves: Record<string, (CostQuality & { shift: number })[]>;
  aiq: Record<string, number>;
  /**
   * tiergate's defaults judged on prompts they never saw: each fold routed on raw scores by a model trained without it
   * and thresholds calibrated (as `npm run train:router` calibrates the shipped ones) on the other folds.
   */
  defaults: CostQuality & {
    tierShare: number[];
    byFold: { thresholds: Thresholds; gain: number }[];
    /** Quality above the fixed tiers at their cost, with the prompts cut into folds by other seeds too: how firm the figure is. */
    gainBySeed: { seed: number; gain: number }[];
  };
  /** The same, as ROUTER_QUALITY_BIAS moves each fold's thresholds. */
  biasCurve: (CostQuality & { bias: number })[];
};

/**
 * What `npm run train:router` makes, done without `heldOut`: a scorer trained without those prompts, and the tier thresholds
 * calibrated for it on `calibration` (with `gain`, its quality above the fixed tiers there).
 */
export type DefaultsWithout = (
  heldOut: MultiPrompt[],
  calibration: MultiPrompt[],
) => { score: (prompt: string) => number; thresholds: Thresholds; gain: number };

const BIASES = [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3];

const FOLDS = 5;
const FOLD_SEED = 7;
const OTHER_FOLD_SEEDS = [1, 2, 3, 4];
const SHIFTS = Array.from({ length: 41 }, (_, i) => -1 + i * 0.05);

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** The tiers a sweep step gives: cut points on score percentiles, all moved by `shift`. */
function sweepTiers(percentile: number[], shift: number): number[] {
  const cuts = BASE_CUTS.map((c) => c + shift) as unknown as Thresholds;
  return percentile.map((x) => selectTier(x, cuts));
}

export function multiModel(scorers: Scorer[], randomScorers: Scorer[], defaultsWithout: DefaultsWithout): MultiModelResult {
  const prompts = loadRouterBench();
  const { tierModels, byPrice } = priceTiers(prompts);
  const { route } = foldsOf(prompts, FOLD_SEED);
  const sweep = (scorer: Scorer) => {
    const percentile = percentiles(prompts.map((p) => scorer.score(p.prompt, p.id)));
    return SHIFTS.map((shift) => ({ shift, ...route(sweepTiers(percentile, shift)) }));
  };

  const curves: MultiModelResult["curves"] = {};
  for (const scorer of scorers) curves[scorer.name] = sweep(scorer);
  const randomCurves = randomScorers.map(sweep);
  curves.random = SHIFTS.map((shift, i) => ({ shift, cost: mean(randomCurves.map((c) => c[i]!.cost)), quality: mean(randomCurves.map((c) => c[i]!.quality)) }));
  const all = Object.values(curves).flat();
  const [lo, hi] = [Math.min(...all.map((p) => p.cost)), Math.max(...all.map((p) => p.cost))];
  const aiqs: Record<string, number> = {};
  for (const scorer of scorers) aiqs[scorer.name] = aiq(curves[scorer.name]!, lo, hi);
  aiqs.random = mean(randomCurves.map((c) => aiq(c, lo, hi)));

  const fixedTiers = fixedTiersOf(prompts, route);
  const { tiersAt, byFold } = defaultsByFold(prompts, FOLD_SEED, defaultsWithout);
  const defaultTiers = tiersAt(0);
  const defaults = route(defaultTiers);
  const biasCurve = BIASES.map((bias) => ({ bias, ...route(tiersAt(bias)) }));
  const gainBySeed = [{ seed: FOLD_SEED, gain: gainOver(fixedTiers, defaults) }];
  for (const seed of OTHER_FOLD_SEEDS) {
    const other = foldsOf(prompts, seed);
    gainBySeed.push({ seed, gain: gainOver(fixedTiersOf(prompts, other.route), other.route(defaultsByFold(prompts, seed, defaultsWithout).tiersAt(0))) });
  }
  return {
    prompts: prompts.length,
    folds: FOLDS,
    tiers: tierModels.map((models, t) => ({ tier: t + 1, models: models.map((m) => ROUTERBENCH_MODELS[m]!) })),
    reference: references(prompts, byPrice),
    fixedTiers,
    curves,
    aiq: aiqs,
    defaults: { ...defaults, tierShare: [1, 2, 3, 4, 5].map((t) => defaultTiers.filter((x) => x === t).length / prompts.length), byFold, gainBySeed },
    biasCurve,
  };
}

/** The prompts' folds (seeded) and routing by tier, each tier's best model for a prompt measured on the other folds only. */
function foldsOf(prompts: MultiPrompt[], seed: number): { fold: number[]; route: (tiers: number[]) => CostQuality } {
  const { tierModels, meanCost } = priceTiers(prompts);
  const random = seeded(seed);
  const fold = prompts.map(() => Math.floor(random() * FOLDS));
  const bestOf = Array.from({ length: FOLDS }, (_, f) =>
    bestPerTier(
      prompts.filter((_, i) => fold[i] !== f),
      tierModels,
      meanCost,
    ),
  );
  const route = (tiers: number[]): CostQuality =>
    costQuality(
      prompts,
      tiers.map((tier, i) => bestOf[fold[i]!]![tier - 1]!),
    );
  return { fold, route };
}

/** Each prompt's tier by its own fold's defaults (made without that fold), as ROUTER_QUALITY_BIAS moves their thresholds. */
function defaultsByFold(
  prompts: MultiPrompt[],
  seed: number,
  defaultsWithout: DefaultsWithout,
): { tiersAt: (bias: number) => number[]; byFold: MultiModelResult["defaults"]["byFold"] } {
  const { fold } = foldsOf(prompts, seed);
  const raw = new Array<number>(prompts.length);
  const thresholdsOf = new Array<Thresholds>(prompts.length);
  const byFold = Array.from({ length: FOLDS }, (_, f) => {
    const defaults = defaultsWithout(
      prompts.filter((_, i) => fold[i] === f),
      prompts.filter((_, i) => fold[i] !== f),
    );
    prompts.forEach((p, i) => {
      if (fold[i] !== f) return;
      raw[i] = defaults.score(p.prompt);
      thresholdsOf[i] = defaults.thresholds;
    });
    return { thresholds: defaults.thresholds, gain: defaults.gain };
  });
  return { tiersAt: (bias) => raw.map((score, i) => selectTier(score, biasThresholds(thresholdsOf[i]!, bias))), byFold };
}

function references(prompts: MultiPrompt[], byPrice: number[]): MultiModelResult["reference"] {
  const always = (m: number) => ({ cost: mean(prompts.map((p) => p.cost[m]!)), quality: mean(prompts.map((p) => p.quality[m]!)) });
  const gpt4 = ROUTERBENCH_MODELS.indexOf("gpt-4-1106-preview");
  const oracle = prompts.map((p) => {
    const best = Math.max(...p.quality);
    return byPrice.find((m) => p.quality[m] === best)!;
  });
  return [
    { name: "always gpt-4", ...always(gpt4) },
    { name: `always cheapest (${ROUTERBENCH_MODELS[byPrice[0]!]})`, ...always(byPrice[0]!) },
    {
      name: "oracle (cheapest correct model)",
      cost: mean(prompts.map((p, i) => p.cost[oracle[i]!]!)),
      quality: mean(prompts.map((p, i) => p.quality[oracle[i]!]!)),
    },
  ];
}

/** Each value's rank in [0, 1], ties sharing their mean rank: the same tier shares for every scorer at each shift. */
function percentiles(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = ((i + j) / 2 + 0.5) / values.length;
    i = j + 1;
  }
  return out;
}
