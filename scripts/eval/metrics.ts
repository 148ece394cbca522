/** Routing-quality metrics: RouteLLM's APGR and CPT, RouterBench's AIQ, Spearman ρ and ROC-AUC. Pure. */
import type { CostQuality } from "../routing-data/price-tiers.ts";

export type PairRow = { score: number; strong: number; weak: number };
export type PairMetrics = { apgr: number; cpt50: number; cpt80: number; strongAcc: number; weakAcc: number; n: number };

/**
 * Sends prompts to the strong model in order of decreasing score and traces
 * accuracy against the share of strong calls. APGR is the area under that trace,
 * less the weak model's accuracy, over the gap; CPT(p) is the share of strong calls
 * needed to recover p of the gap. `tieBreak` orders equal scores (a seeded permutation).
 */
export function pairMetrics(rows: readonly PairRow[], tieBreak: readonly number[]): PairMetrics {
  const n = rows.length;
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.score - rows[a]!.score || tieBreak[a]! - tieBreak[b]!);
  const weakTotal = rows.reduce((sum, r) => sum + r.weak, 0);
  const accuracy: number[] = [weakTotal / n];
  let correct = weakTotal;
  for (const i of order) {
    correct += rows[i]!.strong - rows[i]!.weak;
    accuracy.push(correct / n);
  }
  const weakAcc = accuracy[0]!;
  const strongAcc = accuracy[n]!;
  const gap = strongAcc - weakAcc;
  let area = 0;
  for (let k = 0; k < n; k++) area += (accuracy[k]! + accuracy[k + 1]!) / 2 / n;
  const cpt = (share: number): number => {
    const goal = weakAcc + share * gap;
    const k = accuracy.findIndex((a) => a >= goal - 1e-12);
    return k / n;
  };
  return { apgr: (area - weakAcc) / gap, cpt50: cpt(0.5), cpt80: cpt(0.8), strongAcc, weakAcc, n };
}

/**
 * RouterBench's AIQ: the area under the non-decreasing convex hull of the
 * (cost, quality) points, over the cost range [lo, hi], divided by its width.
 */
export function aiq(points: readonly CostQuality[], lo: number, hi: number): number {
  const hull = upperHull(points);
  if (hull.length === 0) return 0;
  const at = (cost: number): number => {
    if (cost <= hull[0]!.cost) return hull[0]!.quality;
    for (let i = 1; i < hull.length; i++) {
      const a = hull[i - 1]!;
      const b = hull[i]!;
      if (cost <= b.cost) return a.quality + ((b.quality - a.quality) * (cost - a.cost)) / (b.cost - a.cost);
    }
    return hull.at(-1)!.quality;
  };
  const steps = 1_000;
  let area = 0;
  for (let s = 0; s < steps; s++) area += (at(lo + ((s + 0.5) * (hi - lo)) / steps) * (hi - lo)) / steps;
  return area / (hi - lo);
}

/** The upper convex hull of the points, made non-decreasing in quality as cost grows. */
export function upperHull(points: readonly CostQuality[]): CostQuality[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.quality - a.quality);
  const hull: CostQuality[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && p.quality <= hull.at(-1)!.quality) continue; // paying more for no better quality
    while (hull.length >= 2) {
      const [a, b] = [hull.at(-2)!, hull.at(-1)!];
      const cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
      if (cross >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** Average ranks (1-based), ties sharing the mean of their positions. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const [mx, my] = [mean(rx), mean(ry)];
  let num = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < rx.length; i++) {
    num += (rx[i]! - mx) * (ry[i]! - my);
    dx += (rx[i]! - mx) ** 2;
    dy += (ry[i]! - my) ** 2;
  }
  return num / Math.sqrt(dx * dy);
}

/** ROC-AUC of `score` separating positives from negatives (Mann-Whitney, ties counted half). */
export function rocAuc(positives: readonly number[], negatives: readonly number[]): number {
  const all = [...positives, ...negatives];
  const r = ranks(all);
  const positiveRankSum = r.slice(0, positives.length).reduce((a, b) => a + b, 0);
  const u = positiveRankSum - (positives.length * (positives.length + 1)) / 2;
  return u / (positives.length * negatives.length);
}
