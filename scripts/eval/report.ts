/** Writes bench/ROUTING.md and its cost/quality chart (SVG, vega-lite) from an evaluation. */
import { writeFileSync } from "node:fs";
import * as vega from "vega";
import { compile } from "vega-lite";
import { fixedTierFrontier } from "./multi-model.ts";
import type { EvalResult } from "./routing-eval.ts";

const CHART = "routing-cost-quality.svg";
const GOALS = { apgr: 0.65, cpt50: 0.35, spearman: 0.45, auc: 0.97 };

export async function writeRoutingReport(r: EvalResult, dir: string): Promise<void> {
  writeFileSync(`${dir}${CHART}`, await chart(r));
  writeFileSync(`${dir}ROUTING.md`, markdown(r));
}

async function chart(r: EvalResult): Promise<string> {
  const curves = Object.entries(r.multi.curves).flatMap(([name, points]) => points.map((p) => ({ router: name, cost: p.cost * 1_000, quality: p.quality })));
  const refs = r.multi.reference.map((p) => ({ reference: p.name, cost: p.cost * 1_000, quality: p.quality }));
  const deployed = [{ reference: "tiergate as configured", cost: r.multi.deployed.cost * 1_000, quality: r.multi.deployed.quality }];
  const bias = r.multi.biasCurve.map((p) => ({ router: "tiergate, ROUTER_QUALITY_BIAS -0.3 … +0.3", cost: p.cost * 1_000, quality: p.quality, bias: p.bias }));
  const spec = compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "RouterBench: quality against cost as the tier cut points shift",
    width: 560,
    height: 320,
    resolve: { legend: { color: "independent", shape: "independent" } },
    background: "white",
    layer: [
      {
        data: { values: curves },
        mark: { type: "line", point: { size: 12 } },
        encoding: {
          x: { field: "cost", type: "quantitative", title: "mean cost per prompt (USD × 1000)" },
          y: { field: "quality", type: "quantitative", title: "mean quality", scale: { zero: false } },
          color: { field: "router", type: "nominal", title: "router" },
        },
      },
      {
        data: { values: bias },
        mark: { type: "line", point: { size: 40, filled: true }, strokeDash: [4, 3], color: "black" },
        encoding: { x: { field: "cost", type: "quantitative" }, y: { field: "quality", type: "quantitative" }, detail: { field: "router" } },
      },
      {
        data: { values: [...refs, ...deployed] },
        mark: { type: "point", filled: true, size: 90, shape: "diamond" },
        encoding: {
          x: { field: "cost", type: "quantitative" },
          y: { field: "quality", type: "quantitative" },
          shape: { field: "reference", type: "nominal", title: "reference" },
        },
      },
    ],
  }).spec;
  return new vega.View(vega.parse(spec), { renderer: "none" }).toSVG();
}

/**
 * Whether the deployed point lies above the best that fixed tiers give at its cost: any
 * tier no dearer, or a random mix of a cheaper and a dearer one (the upper hull).
 */
function againstFixedTiers(r: EvalResult): string {
  const { deployed, fixedTiers } = r.multi;
  const best = fixedTierFrontier(fixedTiers, deployed.cost);
  if (best === undefined) return "The defaults cost less than any fixed tier.";
  const gap = deployed.quality - best.quality;
  const at = `at its cost, the best of the fixed tiers (${best.how}) gives quality ${best.quality.toFixed(3)}; the defaults give ${deployed.quality.toFixed(3)}`;
  // A mean quality over ~1,100 prompts has a standard error near 0.01: a gap under half of that is a tie.
  const MARGIN = 0.005;
  if (gap > MARGIN) return `**Beats the fixed tiers**: ${at} (+${gap.toFixed(3)}).`;
  const verdict = gap >= -MARGIN ? `**Level with the fixed tiers** (within ${MARGIN})` : "**Does not beat the fixed tiers**";
  return `${verdict}: ${at} (${gap >= 0 ? "+" : ""}${gap.toFixed(3)}).`;
}

function markdown(r: EvalResult): string {
  const names = Object.keys(r.pairs[0]!.byScorer);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const meanApgr = (n: string, pairs = r.pairs): number => mean(pairs.map((p) => p.byScorer[n]!.apgr));
  const splitApgr = (n: string): number => meanApgr(n, r.splitPairs);
  const splitGsmMmlu = r.splitPairs.filter((p) => /^(gsm8k|mmlu)/.test(p.pair));
  const pairRows = (pairs: EvalResult["pairs"]): string[] => [
    `| pair | n | ${names.map((n) => `${n}: APGR / CPT50 / CPT80`).join(" | ")} |`,
    `|---|---|${names.map(() => "---").join("|")}|`,
    ...pairs.map(
      (p) =>
        `| ${p.pair} | ${p.n} | ${names.map((n) => `${f3(p.byScorer[n]!.apgr)} / ${pct(p.byScorer[n]!.cpt50)} / ${pct(p.byScorer[n]!.cpt80)}`).join(" | ")} |`,
    ),
    `| **mean** | | ${names.map((n) => `**${f3(meanApgr(n, pairs))}**`).join(" | ")} |`,
  ];
  const f3 = (x: number): string => x.toFixed(3);
  const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
  const gsmMmlu = r.pairs.filter((p) => /^(gsm8k|mmlu)/.test(p.pair));
  const t = "tiergate";
  const verdict = (met: boolean, text: string): string => `${met ? "met" : "**not met**"}: ${text}`;
  return [
    "# Routing quality on public router benchmarks",
    "",
    `\`npm run eval:routing\`, ${r.date}, commit \`${r.commit}\`, ${r.seconds} s. Data: ../shared/bench/data (see its SOURCES.md); nothing of it is in this repository.`,
    "Every scorer below is run by the same code, in the same run. `tiergate` is `scoreComplexity` from src/routing/score.ts, the worker's own scorer.",
    "",
    "## Goals",
    "Two judgements of the same method. **Held-out test splits**: trained on everything but a seeded 20% of the judged file (and any prompt",
    "identical to one of that 20%), judged on that 20%: a deployment whose traffic resembles its training data. **Held-out files**: trained",
    "without the judged file at all: new kinds of traffic.",
    "",
    "| goal | tiergate | |",
    "|---|---|---|",
    `| mean APGR ≥ ${GOALS.apgr}, held-out test splits | ${f3(splitApgr(t))} | ${verdict(splitApgr(t) >= GOALS.apgr, `best baseline ${f3(Math.max(...names.filter((n) => n !== t).map(splitApgr)))}`)} |`,
    ...splitGsmMmlu.map(
      (p) =>
        `| CPT(50%) ≤ 35% on ${p.pair}, held-out test split | ${pct(p.byScorer[t]!.cpt50)} | ${verdict(p.byScorer[t]!.cpt50 <= GOALS.cpt50, `random ${pct(p.byScorer.random!.cpt50)}`)} |`,
    ),
    `| mean APGR ≥ ${GOALS.apgr}, held-out files | ${f3(meanApgr(t))} | ${verdict(meanApgr(t) >= GOALS.apgr, `best baseline ${f3(Math.max(...names.filter((n) => n !== t).map((n) => meanApgr(n))))}`)} |`,
    ...gsmMmlu.map(
      (p) =>
        `| CPT(50%) ≤ 35% on ${p.pair}, held-out file | ${pct(p.byScorer[t]!.cpt50)} | ${verdict(p.byScorer[t]!.cpt50 <= GOALS.cpt50, `random ${pct(p.byScorer.random!.cpt50)}`)} |`,
    ),
    `| Spearman ρ ≥ ${GOALS.spearman} against MATH level | ${f3(r.mathSpearman[t]!)} | ${verdict(r.mathSpearman[t]! >= GOALS.spearman, `best baseline ${f3(Math.max(...names.filter((n) => n !== t).map((n) => r.mathSpearman[n]!)))}`)} |`,
    `| ROC-AUC ≥ ${GOALS.auc} trivial vs hard | ${f3(r.trivialHardAuc[t]!)} | ${verdict(r.trivialHardAuc[t]! >= GOALS.auc, `best baseline ${f3(Math.max(...names.filter((n) => n !== t).map((n) => r.trivialHardAuc[n]!)))}`)} |`,
    "",
    "## What is learned, and how it is kept honest",
    "- The scorer is a logistic model over the worker's own named features (src/routing/features.ts: length, code, mathematics, proof and",
    "  analysis requests, design, steps, constraints, small talk, factual questions, quantities, sentences, word length, tools, images, ...).",
    "  `npm run train:router` learns the weights (seed fixed) from every training file here and writes src/routing/model.generated.ts (1 KB).",
    "  Each weight keeps its sign, so a signal such as a proof request, code or small talk always pushes the way its name says; a feature",
    "  the data never shows (tools, images,",
    "  `response_format`, `max_tokens`, long conversations) keeps its hand-set weight.",
    "- The target is how much a prompt needs a strong model: (strong − weak + 1) / 2 from per-model results (RouteLLM GSM8K and MMLU, RouterBench",
    "  against the mean of three cheap models, LLMRouter), the MATH level scaled to [0, 1], arena-hard as 1, chit-chat and NQ-open as 0.",
    "- **No leakage.** A held-out-file figure comes from a model trained without the file it is judged on and without any prompt identical",
    "  to one of that file's (MATH Spearman: without math_test_levels; trivial vs hard: without all four of its files; RouterBench: without",
    "  routerbench_routerdc_train). A held-out-split figure comes from a model trained without the 20% it is judged on and without any prompt",
    "  identical to one of them. The shipped model, trained on all files, is never judged here.",
    "- Scoring stays a single pass over the text with no allocation per word: `npm run bench:score` gives the µs per 100-, 1k- and 10k-token",
    "  prompt (about 20 µs for 1k tokens on this machine, against a 50 µs budget).",
    "- The default tier thresholds are calibrated with the shipped model: the knee of the RouterBench cost/quality curve (the most quality per",
    "  dollar), turned into raw-score cut points over the whole benchmark mix. `TIER_THRESHOLDS` overrides them; `ROUTER_QUALITY_BIAS` moves them.",
    "",
    "## Why the goals are not met",
    "- Within one dataset, which prompts a weak model fails is hard to see from the text: prompt length alone (0.60 APGR on GSM8K) is the best",
    "  single signal there, and no feature learned on the other files improves on it when the file is held out. Even trained on 80% of the",
    "  judged file itself (the held-out-split judgement), the named features separate little more: the model needs features that see the",
    "  question's content, or per-model outcomes from real traffic (the audit rows now keep each decision's feature vector, and",
    "  POST /v1/feedback its rating).",
    "- RouterBench's ARC and Winogrande prompts are few-shot (several solved examples, then the question): their length says little about the",
    "  question, and every scorer, length included, is at or below random on three of its four pairs.",
    "- Hashed word and word-pair features (16,384 buckets) were tried during development: held out, they cut the trivial-vs-hard AUC from 0.94",
    "  to 0.75, because they learn which dataset a prompt comes from rather than how hard it is. They are not shipped.",
    "- A training-only intercept per file (so shared weights explain within-file differences) was tried too: mean APGR unchanged (0.521),",
    "  ρ and AUC slightly lower (0.285, 0.939). Not shipped.",
    "- Scoring a few-shot prompt's final question on its own (worked examples found by their answered blocks; their count and length as two",
    "  more features) was tried: it finds every ARC and Winogrande prompt of RouterBench and no prompt of the other files. Held-out files:",
    "  mean APGR 0.521 → 0.551 (RouterBench gpt-3.5 / mistral-7b 0.508 → 0.636); held-out splits 0.562 → 0.564. But GSM8K's CPT(50%)",
    "  worsened (held-out split 30% → 40%), RouterBench AIQ fell from 0.782 to 0.769 (below the baselines), and the calibrated cut points",
    "  left tier 5 unreachable by default. Not shipped yet: it needs the per-model training and the threshold choice against the best fixed tier.",
    "- What would help: per-model outcome data from real traffic (the audit log records tier, model and status, not yet correctness), and",
    "  scoring the last question of a few-shot prompt on its own.",
    "",
    "## Strong/weak pairs (RouteLLM's definitions)",
    "Prompts go to the strong model in order of decreasing score. APGR: area under accuracy against the share of strong calls, less the weak",
    "model's accuracy, over the gap (random ≈ 0.5). CPT(p): share of strong calls needed to recover p of the gap (random ≈ p). Random is the mean of 10 seeds.",
    "",
    "### Held-out test splits (20% of each pair's file; the baselines learn nothing, so they are judged on the same 20%)",
    ...pairRows(r.splitPairs),
    "",
    "### Held-out files",
    ...pairRows(r.pairs),
    "",
    "## Difficulty ranking",
    `| measure | ${names.join(" | ")} |`,
    `|---|${names.map(() => "---").join("|")}|`,
    `| Spearman ρ, score vs MATH level (5,000 prompts) | ${names.map((n) => f3(r.mathSpearman[n]!)).join(" | ")} |`,
    `| ROC-AUC, trivial (chatterbot, NQ-open) vs hard (arena-hard, MATH level 5) | ${names.map((n) => f3(r.trivialHardAuc[n]!)).join(" | ")} |`,
    "",
    `## Multi-model cost and quality (RouterBench, ${r.multi.prompts} prompts, 11 models)`,
    `Tiers by price: ${r.multi.tiers.map((x) => `${x.tier}: ${x.models.join(", ")}`).join("; ")}.`,
    `Each prompt goes through the real tier selection to the best model of its tier, "best" measured on the other folds only (${r.multi.folds}-fold`,
    "cross-validation). Sweeping the cut points (0.2, 0.4, 0.6, 0.8 on score percentiles, shifted together from −1 to +1) traces each router's",
    "curve; AIQ is the area under its non-decreasing convex hull over the common cost range, divided by that range.",
    "",
    `![quality against cost](${CHART})`,
    "",
    `| router | AIQ |`,
    `|---|---|`,
    ...names.map((n) => `| ${n} | ${r.multi.aiq[n]!.toFixed(4)} |`),
    "",
    "| reference | mean cost (USD) | mean quality |",
    "|---|---|---|",
    ...r.multi.reference.map((p) => `| ${p.name} | ${p.cost.toExponential(2)} | ${f3(p.quality)} |`),
    `| tiergate as configured (TIER_THRESHOLDS on raw scores) | ${r.multi.deployed.cost.toExponential(2)} | ${f3(r.multi.deployed.quality)} |`,
    "",
    `Tier shares as configured: ${r.multi.deployed.tierShare.map((s, i) => `tier ${i + 1} ${pct(s)}`).join(", ")}.`,
    "",
    "### The defaults against fixed tiers",
    "Every prompt sent to one tier (its best model, chosen as the routers' are) is a setting anyone can have without a router; mixing two",
    "fixed tiers at random gives any point on the line between them. The defaults earn their place only above the best of those at their cost.",
    "",
    "| setting | mean cost (USD) | mean quality |",
    "|---|---|---|",
    ...r.multi.fixedTiers.map((p) => `| always tier ${p.tier} | ${p.cost.toExponential(2)} | ${f3(p.quality)} |`),
    `| tiergate as configured | ${r.multi.deployed.cost.toExponential(2)} | ${f3(r.multi.deployed.quality)} |`,
    "",
    againstFixedTiers(r),
    "",
    "## Moving along the curve: ROUTER_QUALITY_BIAS",
    "One setting moves every tier cut point down by its value (`src/config/policy.ts`): positive sends more prompts to higher tiers,",
    "better and dearer; negative, cheaper. On the same RouterBench prompts (the dashed black line in the chart):",
    "",
    "| ROUTER_QUALITY_BIAS | mean cost (USD) | mean quality |",
    "|---|---|---|",
    ...r.multi.biasCurve.map((p) => `| ${p.bias > 0 ? "+" : ""}${p.bias} | ${p.cost.toExponential(2)} | ${f3(p.quality)} |`),
    "",
  ].join("\n");
}
