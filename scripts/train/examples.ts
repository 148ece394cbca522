/**
 * Training examples for the scorer, from ../shared/bench/data. The target says how
 * much a prompt needs a dearer model, from per-model results: a strong model's
 * advantage over a weak one, (strong - weak + 1) / 2. Where a file scores many models
 * at known prices (RouterBench, LLMRouter) it is averaged over every step up in price;
 * RouteLLM's files score one pair. For graded or known-easy and known-hard sets, a
 * difficulty in [0, 1].
 */
import { LLMROUTER_PRICES, loadMathLevels, loadPair, loadRouterBench, PAIRS, ROUTERBENCH_MODELS, readJsonl } from "../routing-data/data.ts";
import { priceTiers } from "../routing-data/price-tiers.ts";

export type Example = { prompt: string; target: number; file: string };

/** How much a prompt gains from the strong model over the weak one, in [0, 1]: 0.5 when they do as well. */
export const advantage = (strong: number, weak: number): number => (strong - weak + 1) / 2;
/** A step up in price: a model at least this many times dearer than another. */
const PRICE_STEP = 3;

/**
 * The mean advantage of each model over every model at least PRICE_STEP times cheaper, over the pairs both answered:
 * how much a prompt gains from going up in price, whichever step up it is. `undefined` where no pair was answered.
 */
function priceStepTarget(score: (model: string) => number | undefined, price: Record<string, number>): number | undefined {
  const models = Object.keys(price);
  let sum = 0;
  let pairs = 0;
  for (const dear of models) {
    for (const cheap of models) {
      const [strong, weak] = [score(dear), score(cheap)];
      if (price[dear]! <= PRICE_STEP * price[cheap]! || strong === undefined || weak === undefined) continue;
      sum += advantage(strong, weak);
      pairs += 1;
    }
  }
  return pairs > 0 ? sum / pairs : undefined;
}

const numberOr = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);

export function trainingExamples(): Example[] {
  const examples: Example[] = [];
  for (const file of ["routellm_gsm8k.jsonl", "routellm_mmlu.jsonl"]) {
    const spec = PAIRS.find((p) => p.file === file)!;
    for (const row of loadPair(spec)) examples.push({ prompt: row.prompt, target: advantage(row.strong, row.weak), file });
  }

  // RouterBench prices each answer: a model's price is its mean cost per prompt, as the tiers are made by price
  // (priceTiers). LLMRouter lists a price per token.
  const routerBench = readJsonl("routerbench_routerdc_train.jsonl");
  const { meanCost: costs } = priceTiers(loadRouterBench());
  const meanCost = Object.fromEntries(ROUTERBENCH_MODELS.map((m, i) => [m, costs[i]!]));
  const multiModel: [string, typeof routerBench, (row: (typeof routerBench)[number]) => Record<string, unknown>, Record<string, number>][] = [
    ["llmrouter_dcrouter_train.jsonl", readJsonl("llmrouter_dcrouter_train.jsonl"), (row) => row.scores as Record<string, unknown>, LLMROUTER_PRICES],
    ["routerbench_routerdc_train.jsonl", routerBench, (row) => row, meanCost],
  ];
  for (const [file, rows, scoresOf, price] of multiModel) {
    for (const row of rows) {
      const scores = scoresOf(row);
      const target = priceStepTarget((model) => numberOr(scores[model]), price);
      if (target !== undefined) examples.push({ prompt: row.prompt, target, file });
    }
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
