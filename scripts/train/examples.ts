/**
 * Training examples for the scorer, from ../shared/bench/data. The target says how
 * much a prompt needs a strong model: for per-model results, the strong model's
 * advantage over the weak one, (strong - weak + 1) / 2 (on RouterBench, averaged over
 * every step up in price); for graded or known-easy
 * and known-hard sets, a difficulty in [0, 1].
 */
import { loadMathLevels, loadPair, PAIRS, ROUTERBENCH_MODELS, readJsonl } from "../eval/data.ts";

export type Example = { prompt: string; target: number; file: string };

const advantage = (strong: number, weak: number): number => (strong - weak + 1) / 2;
/** A step up in price, for RouterBench's targets: a model at least this many times dearer than another. */
const PRICE_STEP = 3;

export function trainingExamples(): Example[] {
  const examples: Example[] = [];
  const pairFile = (file: string): void => {
    const spec = PAIRS.find((p) => p.file === file)!;
    for (const row of loadPair(spec)) examples.push({ prompt: row.prompt, target: advantage(row.strong, row.weak), file });
  };
  pairFile("routellm_gsm8k.jsonl");
  pairFile("routellm_mmlu.jsonl");
  pairFile("llmrouter_dcrouter_train.jsonl");

  // RouterBench: per-model results and prices. The target is the advantage of each model over every model at least
  // PRICE_STEP times cheaper (by mean cost per prompt), averaged over the pairs both answered: how much this prompt
  // gains from going up in price, whichever step up it is.
  const rows = readJsonl("routerbench_routerdc_train.jsonl");
  const meanCost = ROUTERBENCH_MODELS.map((m) => rows.reduce((sum, row) => sum + (Number(row[`${m}|total_cost`]) || 0), 0) / rows.length);
  const steps = ROUTERBENCH_MODELS.flatMap((_, dear) =>
    ROUTERBENCH_MODELS.flatMap((_, cheap) => (meanCost[dear]! > PRICE_STEP * meanCost[cheap]! ? [[dear, cheap]] : [])),
  );
  for (const row of rows) {
    const score = (i: number): number | undefined => {
      const v = row[ROUTERBENCH_MODELS[i]!];
      return typeof v === "number" ? v : undefined;
    };
    const gains = steps.flatMap(([dear, cheap]) => {
      const [strong, weak] = [score(dear!), score(cheap!)];
      return strong === undefined || weak === undefined ? [] : [advantage(strong, weak)];
    });
    if (gains.length > 0)
      examples.push({ prompt: row.prompt, target: gains.reduce((a, b) => a + b, 0) / gains.length, file: "routerbench_routerdc_train.jsonl" });
  }

  for (const { prompt, level } of loadMathLevels()) examples.push({ prompt, target: (level - 1) / 4, file: "math_test_levels.jsonl" });
  for (const [file, target] of [
    ["arena_hard_v0.1.jsonl", 1],
    ["chatterbot_corpus_en.jsonl", 0],
    ["nq_open_dev.jsonl", 0],
  ] as const) {
    for (const row of readJsonl(file)) examples.push({ prompt: row.prompt, target, file });
  }
  return examples;
}

/** Text that identifies a prompt across files, so a held-out prompt never trains under another file's name. */
export const promptKey = (prompt: string): string => prompt.replace(/\s+/g, " ").trim().toLowerCase();
