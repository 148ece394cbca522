/** Reads the public routing benchmarks in ../shared/bench/data (never copied into the repo). */
import { existsSync, readFileSync } from "node:fs";

export const DATA_DIR = new URL("../../../shared/bench/data/", import.meta.url);

type Raw = Record<string, unknown> & { id: string; prompt: string };

export function readJsonl(file: string): Raw[] {
  const url = new URL(file, DATA_DIR);
  if (!existsSync(url)) throw new Error(`missing ${url.pathname}: the evaluation reads ../shared/bench/data`);
  return readFileSync(url, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Raw);
}

export type PairSpec = { name: string; file: string; strong: string; weak: string; group: (row: Raw) => string };
export type PairPrompt = { id: string; prompt: string; group: string; strong: number; weak: number };

const bool = (value: unknown): number | undefined => (value === true ? 1 : value === false ? 0 : undefined);
const num = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

/** The strong/weak pairs of the issue, with RouteLLM's definitions. */
export const PAIRS: PairSpec[] = [
  {
    name: "gsm8k: gpt-4 / mixtral",
    file: "routellm_gsm8k.jsonl",
    strong: "gpt-4-1106-preview",
    weak: "mistralai/Mixtral-8x7B-Instruct-v0.1",
    group: () => "gsm8k",
  },
  {
    name: "mmlu: gpt-4 / mixtral",
    file: "routellm_mmlu.jsonl",
    strong: "gpt-4-1106-preview",
    weak: "mistralai/Mixtral-8x7B-Instruct-v0.1",
    group: (r) => `mmlu:${String(r.subject)}`,
  },
  ...(["mistralai/mixtral-8x7b-chat", "mistralai/mistral-7b-chat", "meta/llama-2-70b-chat"] as const).map((weak) => ({
    name: `routerbench: gpt-4 / ${weak.split("/")[1]}`,
    file: "routerbench_routerdc_train.jsonl",
    strong: "gpt-4-1106-preview",
    weak,
    group: (r: Raw) => `routerbench:${String(r.eval_name)}`,
  })),
  {
    name: "routerbench: gpt-3.5 / mistral-7b",
    file: "routerbench_routerdc_train.jsonl",
    strong: "gpt-3.5-turbo-1106",
    weak: "mistralai/mistral-7b-chat",
    group: (r) => `routerbench:${String(r.eval_name)}`,
  },
  {
    name: "llmrouter: nemotron-51b / mistral-7b",
    file: "llmrouter_dcrouter_train.jsonl",
    strong: "llama-3.1-nemotron-51b-instruct",
    weak: "mistral-7b-instruct-v0.3",
    group: (r) => `llmrouter:${String(r.task_name)}`,
  },
];

/** Correctness of both models per prompt; rows where either is missing are left out. */
export function loadPair(spec: PairSpec): PairPrompt[] {
  const out: PairPrompt[] = [];
  for (const row of readJsonl(spec.file)) {
    const scores = (row.scores as Record<string, unknown> | undefined) ?? row;
    const value = (model: string): number | undefined => bool(scores[model]) ?? num(scores[model]);
    const strong = value(spec.strong);
    const weak = value(spec.weak);
    if (strong !== undefined && weak !== undefined) out.push({ id: row.id, prompt: row.prompt, group: spec.group(row), strong, weak });
  }
  return out;
}

export const ROUTERBENCH_MODELS = [
  "WizardLM/WizardLM-13B-V1.2",
  "claude-instant-v1",
  "claude-v1",
  "claude-v2",
  "gpt-3.5-turbo-1106",
  "gpt-4-1106-preview",
  "meta/code-llama-instruct-34b-chat",
  "meta/llama-2-70b-chat",
  "mistralai/mistral-7b-chat",
  "mistralai/mixtral-8x7b-chat",
  "zero-one-ai/Yi-34B-Chat",
] as const;

/** LLMRouter's nine models, USD per million tokens (input = output), from its default_llm.json (see SOURCES.md). */
export const LLMROUTER_PRICES: Record<string, number> = {
  "gemma-2-9b-it": 0.1,
  "qwen2.5-7b-instruct": 0.2,
  "llama-3.1-8b-instruct": 0.2,
  "mistral-7b-instruct-v0.3": 0.2,
  "codegemma-7b": 0.2,
  "llama3-chatqa-1.5-8b": 0.2,
  "llama-3.3-nemotron-super-49b-v1": 0.9,
  "llama-3.1-nemotron-51b-instruct": 0.9,
  "llama3-chatqa-1.5-70b": 0.9,
};

export type MultiPrompt = { id: string; prompt: string; group: string; quality: number[]; cost: number[] };

/** RouterBench's 11 models: per-prompt quality and cost, in ROUTERBENCH_MODELS order; rows with a missing cell are left out. */
export function loadRouterBench(): MultiPrompt[] {
  const out: MultiPrompt[] = [];
  for (const row of readJsonl("routerbench_routerdc_train.jsonl")) {
    const quality = ROUTERBENCH_MODELS.map((m) => num(row[m]));
    const cost = ROUTERBENCH_MODELS.map((m) => num(row[`${m}|total_cost`]));
    if (quality.some((q) => q === undefined) || cost.some((c) => c === undefined)) continue;
    out.push({ id: row.id, prompt: row.prompt, group: `routerbench:${String(row.eval_name)}`, quality: quality as number[], cost: cost as number[] });
  }
  return out;
}

/** MATH test prompts with their difficulty level, 1 to 5. */
export function loadMathLevels(): { prompt: string; level: number }[] {
  return readJsonl("math_test_levels.jsonl").map((row) => ({ prompt: row.prompt, level: Number(row.label) }));
}

/** Known-trivial prompts (chit-chat, one-fact questions) and known-hard ones (arena-hard, MATH level 5). */
export function loadTrivialVersusHard(): { trivial: string[]; hard: string[] } {
  const trivial = [...readJsonl("chatterbot_corpus_en.jsonl"), ...readJsonl("nq_open_dev.jsonl")].map((r) => r.prompt);
  const hard = [
    ...readJsonl("arena_hard_v0.1.jsonl").map((r) => r.prompt),
    ...loadMathLevels()
      .filter((m) => m.level === 5)
      .map((m) => m.prompt),
  ];
  return { trivial, hard };
}
