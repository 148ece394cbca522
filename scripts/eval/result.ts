/** What one run of `npm run eval:routing` finds: bench/routing.json, and what bench/ROUTING.md is written from. */
import type { Thresholds } from "../../src/routing/thresholds.ts";
import type { PairMetrics } from "./metrics.ts";
import type { MultiModelResult } from "./multi-model.ts";

export type PairResult = { pair: string; n: number; byScorer: Record<string, PairMetrics> };
export type EvalResult = {
  date: string;
  commit: string;
  seconds: number;
  /** Judged on files held out of training (new kinds of traffic). */
  pairs: PairResult[];
  /** Judged on a held-out test split of each pair's own file, trained on the rest of it (traffic like the training data). */
  splitPairs: PairResult[];
  /**
   * Not routers, references for the held-out test splits (APGR per pair). "task oracle": the pair's mean advantage on the
   * rest of the file for the prompt's own task or subject (MMLU's 57, RouterBench's 3, LLMRouter's 14), what knowing each
   * prompt's kind exactly is worth. "a model per pair": tiergate's features and training, on that pair's own outcomes
   * alone, the best a decision per pair of tiers could do with these features. "both": the task oracle, then the model per
   * pair within each task.
   */
  splitReferences: Record<"task oracle" | "a model per pair" | "both", { pair: string; apgr: number }[]>;
  mathSpearman: Record<string, number>;
  trivialHardAuc: Record<string, number>;
  /** tiergate's trivial-vs-hard AUC trained with other seeds (the order SGD sees the examples in): how firm the figure is. */
  trivialHardAucSeeds: { seed: number; auc: number }[];
  multi: MultiModelResult;
  /** The configured thresholds (TIER_THRESHOLDS, else the shipped ones) with the shipped model: each tier's share of every training prompt. */
  shipped: { thresholds: Thresholds; mixShare: number[] };
};
