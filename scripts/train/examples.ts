/**
 * Training examples for the scorer, from ../shared/bench/data. The target says how
 * much a prompt needs a strong model: for per-model results, the strong model's
 * advantage over the weak one, (strong - weak + 1) / 2; for graded or known-easy
 * and known-hard sets, a difficulty in [0, 1].
 */
import { loadMathLevels, loadPair, PAIRS, ROUTERBENCH_MODELS, readJsonl } from "../eval/data.ts";

export type Example = { prompt: string; target: number; file: string };

const advantage = (strong: number, weak: number): number => (strong - weak + 1) / 2;

export function trainingExamples(): Example[] {
  const examples: Example[] = [];
  const pairFile = (file: string): void => {
    const spec = PAIRS.find((p) => p.file === file)!;
    for (const row of loadPair(spec)) examples.push({ prompt: row.prompt, target: advantage(row.strong, row.weak), file });
  };
  pairFile("routellm_gsm8k.jsonl");
  pairFile("routellm_mmlu.jsonl");
  pairFile("llmrouter_dcrouter_train.jsonl");

  // RouterBench: gpt-4 against the mean of three cheap models, so no single evaluated pair is the target.
  const cheap = ["mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "meta/llama-2-70b-chat"].map((m) => ROUTERBENCH_MODELS.indexOf(m as never));
  const gpt4 = ROUTERBENCH_MODELS.indexOf("gpt-4-1106-preview");
  for (const row of readJsonl("routerbench_routerdc_train.jsonl")) {
    const score = (i: number): number | undefined => {
      const v = row[ROUTERBENCH_MODELS[i]!];
      return typeof v === "number" ? v : undefined;
    };
    const weak = cheap.map(score);
    const strong = score(gpt4);
    if (strong === undefined || weak.some((w) => w === undefined)) continue;
    const weakMean = (weak as number[]).reduce((a, b) => a + b, 0) / weak.length;
    examples.push({ prompt: row.prompt, target: advantage(strong, weakMean), file: "routerbench_routerdc_train.jsonl" });
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
