/**
 * `npm run eval:routing`: how well each scorer routes, on public router benchmarks
 * in ../shared/bench/data, beside the baselines, in one run; prints the table and
 * writes bench/ROUTING.md with the cost/quality chart. The scorer is the worker's own code.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../src/config/env.ts";
import { decodeModel } from "../../src/routing/model.ts";
import { scoreOfVector } from "../../src/routing/score.ts";
import { selectTier } from "../../src/routing/tier.ts";
import { loadMathLevels, loadPair, loadTrivialVersusHard, type MultiPrompt, PAIRS, type PairPrompt } from "../routing-data/data.ts";
import { seeded } from "../seeded-random.ts";
import { calibrate } from "../train/calibrate.ts";
import { advantage, promptKey, trainingExamples } from "../train/examples.ts";
import { TRAINING, train, vectorize } from "../train/logistic.ts";
import { keywordHeuristic, promptLength } from "./baselines.ts";
import { type PairMetrics, pairMetrics, rocAuc, spearman } from "./metrics.ts";
import { type DefaultsWithout, multiModel, type Scorer } from "./multi-model.ts";
import { writeRoutingReport } from "./report.ts";
import type { EvalResult, PairResult } from "./result.ts";

/** A scorer for an evaluation that holds `heldOut` files out of anything learned. */
type ScorerFactory = { name: string; forHeldOut: (heldOut: string[]) => Scorer };

const RANDOM_SEEDS = 10;
/** Training seeds besides the shipped one, to show how much a learned figure owes to the order of the examples. */
const OTHER_SEEDS = [1, 2, 3, 4];
const hashId = (id: string, seed: number): number => {
  let h = 2_166_136_261 ^ seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16_777_619);
  return seeded(h >>> 0)();
};

const fixed = (name: string, score: Scorer["score"]): ScorerFactory => ({ name, forHeldOut: () => ({ name, score }) });
const FACTORIES: ScorerFactory[] = [
  { name: "tiergate", forHeldOut: heldOutScorer },
  fixed("keyword heuristic (LiteLLM-style)", keywordHeuristic),
  fixed("prompt length", promptLength),
];
/** Random routing, as the mean over several seeds (one seed alone is noisy). */
const randomScorers: Scorer[] = Array.from({ length: RANDOM_SEEDS }, (_, seed) => ({ name: "random", score: (_p, id) => hashId(id, seed) }));
function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** A pair's metrics for scores of its rows, equal scores ordered by a seeded hash of the row's id. */
function metricsOn(rows: PairPrompt[], score: (row: PairPrompt) => number): PairMetrics {
  return pairMetrics(
    rows.map((r) => ({ score: score(r), strong: r.strong, weak: r.weak })),
    rows.map((r) => hashId(r.id, 99)),
  );
}

function averageMetrics(all: PairMetrics[]): PairMetrics {
  const pick = (k: keyof PairMetrics): number => mean(all.map((m) => m[k]));
  return { apgr: pick("apgr"), cpt50: pick("cpt50"), cpt80: pick("cpt80"), strongAcc: pick("strongAcc"), weakAcc: pick("weakAcc"), n: pick("n") };
}

export function evaluate(): EvalResult {
  const started = Date.now();
  const judge = (name: string, rows: ReturnType<typeof loadPair>, scorers: Scorer[]): PairResult => {
    const metricsOf = (scorer: Scorer): PairMetrics => metricsOn(rows, (r) => scorer.score(r.prompt, r.id));
    const byScorer: Record<string, PairMetrics> = {};
    for (const scorer of scorers) byScorer[scorer.name] = metricsOf(scorer);
    byScorer.random = averageMetrics(randomScorers.map(metricsOf));
    return { pair: name, n: rows.length, byScorer };
  };
  const pairs = PAIRS.map((spec) =>
    judge(
      spec.name,
      loadPair(spec),
      FACTORIES.map((f) => f.forHeldOut([spec.file])),
    ),
  );
  const splitPairs = PAIRS.map((spec) =>
    judge(
      spec.name,
      loadPair(spec).filter((r) => inTestSplit(r.prompt)),
      FACTORIES.map((f) => (f.name === "tiergate" ? splitScorer(spec.file) : f.forHeldOut([]))),
    ),
  );

  const splitReferences = splitReferencesOf();

  const math = loadMathLevels();
  const { trivial, hard } = loadTrivialVersusHard();
  const mathSpearman: Record<string, number> = {};
  const trivialHardAuc: Record<string, number> = {};
  const aucFiles = ["chatterbot_corpus_en.jsonl", "nq_open_dev.jsonl", "arena_hard_v0.1.jsonl", "math_test_levels.jsonl"];
  const aucOf = (scorer: Scorer): number =>
    rocAuc(
      hard.map((p) => scorer.score(p, "")),
      trivial.map((p) => scorer.score(p, "")),
    );
  for (const factory of FACTORIES) {
    const forMath = factory.forHeldOut(["math_test_levels.jsonl"]);
    const forAuc = factory.forHeldOut(aucFiles);
    mathSpearman[factory.name] = spearman(
      math.map((m) => forMath.score(m.prompt, "")),
      math.map((m) => m.level),
    );
    trivialHardAuc[factory.name] = aucOf(forAuc);
  }
  const trivialHardAucSeeds = [TRAINING.seed, ...OTHER_SEEDS].map((seed) => ({ seed, auc: aucOf(heldOutScorer(aucFiles, seed)) }));
  mathSpearman.random = mean(
    randomScorers.map((s) =>
      spearman(
        math.map((m, i) => s.score(m.prompt, `math${i}`)),
        math.map((m) => m.level),
      ),
    ),
  );
  trivialHardAuc.random = mean(
    randomScorers.map((s) =>
      rocAuc(
        hard.map((p, i) => s.score(p, `h${i}`)),
        trivial.map((p, i) => s.score(p, `t${i}`)),
      ),
    ),
  );

  const forRouterBench = FACTORIES.map((f) => f.forHeldOut(["routerbench_routerdc_train.jsonl"]));
  const multi = multiModel(forRouterBench, randomScorers, defaultsWithout);
  const thresholds = parseConfig(process.env).thresholds;
  const mixTiers = examples.map((e) => selectTier(scoreOfVector(vectorOf(e.prompt)), thresholds));
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    pairs,
    splitPairs,
    splitReferences,
    mathSpearman,
    trivialHardAuc,
    trivialHardAucSeeds,
    multi,
    shipped: { thresholds, mixShare: [1, 2, 3, 4, 5].map((t) => mixTiers.filter((x) => x === t).length / mixTiers.length) },
  };
}

const examples = trainingExamples();
const vectors = new Map<string, Float64Array>();
const trained = new Map<string, Scorer>();

/**
 * tiergate with a model trained as `npm run train:router` trains it, but without the
 * held-out files and without any prompt identical to one of theirs: leave-one-dataset-out.
 */
function heldOutScorer(heldOut: string[], seed = TRAINING.seed): Scorer {
  const key = `${[...heldOut].sort().join("+")}, seed ${seed}`;
  const known = trained.get(key);
  if (known !== undefined) return known;
  const heldOutPrompts = new Set(examples.filter((e) => heldOut.includes(e.file)).map((e) => promptKey(e.prompt)));
  const kept = examples.filter((e) => !heldOut.includes(e.file) && !heldOutPrompts.has(promptKey(e.prompt)));
  const scorer = scorerTrainedOn(kept, `held out: ${key}`, seed);
  trained.set(key, scorer);
  return scorer;
}

/** The share of each file held out as its test split, by a seeded hash of the prompt's text (so a repeated prompt is on one side only). */
const TEST_SHARE = 0.2;
const inTestSplit = (prompt: string): boolean => hashId(promptKey(prompt), 7) < TEST_SHARE;

/**
 * tiergate trained on every file, less `file`'s test split and any prompt identical to
 * one of it: the judgement for a deployment whose traffic resembles its training data.
 */
function splitScorer(file: string): Scorer {
  const key = `split:${file}`;
  const known = trained.get(key);
  if (known !== undefined) return known;
  const testPrompts = new Set(examples.filter((e) => e.file === file && inTestSplit(e.prompt)).map((e) => promptKey(e.prompt)));
  const kept = examples.filter((e) => !testPrompts.has(promptKey(e.prompt)));
  const scorer = scorerTrainedOn(kept, key);
  trained.set(key, scorer);
  return scorer;
}

function splitReferencesOf(): EvalResult["splitReferences"] {
  const judged = (rows: PairPrompt[], score: (row: PairPrompt) => number): number => metricsOn(rows, score).apgr;
  const references: EvalResult["splitReferences"] = { "task oracle": [], "a model per pair": [], both: [] };
  for (const spec of PAIRS) {
    const rows = loadPair(spec);
    const [rest, test] = [rows.filter((r) => !inTestSplit(r.prompt)), rows.filter((r) => inTestSplit(r.prompt))];
    const sums = new Map<string, { gain: number; n: number }>();
    for (const r of rest) {
      const sum = sums.get(r.group) ?? { gain: 0, n: 0 };
      sums.set(r.group, { gain: sum.gain + r.strong - r.weak, n: sum.n + 1 });
    }
    const taskGain = (r: PairPrompt): number => {
      const sum = sums.get(r.group);
      return sum ? sum.gain / sum.n : 0;
    };
    const own = decodeModel(
      train(
        { vectors: rest.map((r) => vectorize(r.prompt)), targets: rest.map((r) => advantage(r.strong, r.weak)), files: rest.map(() => spec.file) },
        `${spec.name} alone`,
      ),
    );
    const ownScore = (r: PairPrompt): number => scoreOfVector(vectorOf(r.prompt), own);
    references["task oracle"].push({ pair: spec.name, apgr: judged(test, taskGain) });
    references["a model per pair"].push({ pair: spec.name, apgr: judged(test, ownScore) });
    // The task first; the pair's own model, scaled far down, orders the prompts within a task.
    references.both.push({ pair: spec.name, apgr: judged(test, (r) => taskGain(r) + 1e-6 * ownScore(r)) });
  }
  return references;
}

function vectorOf(prompt: string): Float64Array {
  let v = vectors.get(prompt);
  if (v === undefined) {
    v = vectorize(prompt);
    vectors.set(prompt, v);
  }
  return v;
}

/** The shipped defaults' making (train:router's training and calibration), without `heldOut`'s prompts: for judging them on those. */
function defaultsWithout(heldOut: MultiPrompt[], calibration: MultiPrompt[]): ReturnType<DefaultsWithout> {
  const heldOutPrompts = new Set(heldOut.map((p) => promptKey(p.prompt)));
  const kept = examples.filter((e) => !heldOutPrompts.has(promptKey(e.prompt)));
  const scorer = scorerTrainedOn(kept, `defaults without ${heldOut.length} RouterBench prompts`);
  const score = (prompt: string): number => scorer.score(prompt, "");
  const { thresholds, gain } = calibrate(
    score,
    kept.map((e) => e.prompt),
    calibration,
  );
  return { score, thresholds, gain };
}

function scorerTrainedOn(kept: typeof examples, provenance: string, seed = TRAINING.seed): Scorer {
  const model = decodeModel(
    train({ vectors: kept.map((e) => vectorOf(e.prompt)), targets: kept.map((e) => e.target), files: kept.map((e) => e.file) }, provenance, {
      ...TRAINING,
      seed,
    }),
  );
  return {
    name: "tiergate",
    score: (prompt) => scoreOfVector(vectorOf(prompt), model),
  };
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"]).toString().trim();
  } catch {
    return "unknown";
  }
}

function printTable(result: EvalResult): void {
  const names = [...FACTORIES.map((f) => f.name), "random"];
  const pad = (text: string, width: number): string => text.padEnd(width);
  console.log(`${pad("pair (APGR / CPT50 / CPT80)", 42)}${names.map((n) => pad(n.slice(0, 22), 24)).join("")}`);
  for (const pair of result.pairs) {
    const cells = names.map((n) => {
      const m = pair.byScorer[n]!;
      return pad(`${m.apgr.toFixed(3)} / ${(100 * m.cpt50).toFixed(0)}% / ${(100 * m.cpt80).toFixed(0)}%`, 24);
    });
    console.log(`${pad(`${pair.pair} (n=${pair.n})`, 42)}${cells.join("")}`);
  }
  const meanApgr = (n: string, pairs = result.pairs): string => mean(pairs.map((p) => p.byScorer[n]!.apgr)).toFixed(3);
  console.log(`${pad("mean APGR, held-out files", 42)}${names.map((n) => pad(meanApgr(n), 24)).join("")}`);
  console.log(`${pad("mean APGR, held-out test splits", 42)}${names.map((n) => pad(meanApgr(n, result.splitPairs), 24)).join("")}`);
  console.log(`${pad("Spearman vs MATH level", 42)}${names.map((n) => pad(result.mathSpearman[n]!.toFixed(3), 24)).join("")}`);
  console.log(`${pad("AUC trivial vs hard", 42)}${names.map((n) => pad(result.trivialHardAuc[n]!.toFixed(3), 24)).join("")}`);
  console.log(`${pad("AIQ (RouterBench, 11 models, 5 tiers)", 42)}${names.map((n) => pad(result.multi.aiq[n]!.toFixed(4), 24)).join("")}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = evaluate();
  printTable(result);
  const out = fileURLToPath(new URL("../../bench/", import.meta.url));
  writeFileSync(`${out}routing.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeRoutingReport(result, out);
  console.log(`\nwrote bench/ROUTING.md, bench/routing.json and bench/routing-cost-quality.svg in ${result.seconds} s`);
}
