/**
 * The cache's replay workload: prompts from ../shared/bench/data drawn with a
 * Zipf-like repeat distribution from a seeded generator, and the best hit rate any
 * cache could reach on it (the share of requests that repeat an earlier one).
 */
import { existsSync, readFileSync } from "node:fs";
import { seeded } from "../seeded-random.ts";

const DATA = new URL("../../../shared/bench/data/", import.meta.url);
const SOURCES = ["chatterbot_corpus_en.jsonl", "nq_open_dev.jsonl", "openai_gsm8k_test.jsonl", "arena_hard_v0.1.jsonl"];

function promptPool(size: number): string[] {
  const prompts: string[] = [];
  for (const file of SOURCES) {
    const url = new URL(file, DATA);
    if (!existsSync(url)) continue;
    for (const line of readFileSync(url, "utf8").split("\n")) {
      if (line.trim() !== "") prompts.push((JSON.parse(line) as { prompt: string }).prompt);
      if (prompts.length >= (size * (SOURCES.indexOf(file) + 1)) / SOURCES.length) break;
    }
  }
  for (let i = prompts.length; i < size; i++) prompts.push(`Generated question number ${i}: what is ${i} squared?`);
  return prompts.slice(0, size);
}

export type Workload = { prompts: string[]; bestHitRate: number; distinct: number };

/** `requests` draws over `distinct` prompts, rank r drawn with weight 1 / r^s. */
export function zipfWorkload(requests: number, distinct = 1_000, s = 1.1, seed = 20261126): Workload {
  const pool = promptPool(distinct);
  const weights = pool.map((_, rank) => 1 / (rank + 1) ** s);
  const cumulative: number[] = [];
  weights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
  const total = cumulative.at(-1)!;
  const random = seeded(seed);
  const prompts: string[] = [];
  const seen = new Set<string>();
  let repeats = 0;
  for (let i = 0; i < requests; i++) {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    const prompt = pool[lo]!;
    if (seen.has(prompt)) repeats += 1;
    seen.add(prompt);
    prompts.push(prompt);
  }
  return { prompts, bestHitRate: repeats / requests, distinct: seen.size };
}
