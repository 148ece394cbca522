/**
 * `npm run --silent route < prompts.jsonl > decisions.jsonl`: what the router would do
 * with each prompt, using the worker's own code and config (MODELS_JSON, TIER_THRESHOLDS).
 * Input lines: {"id", "prompt"} or {"id", "messages", ...any chat parameters}.
 * Output lines, in order: {"id", "tier", "score", "model", "estimated_cost_usd"} or {"id", "error"}.
 * A summary per tier goes to stderr.
 */
import { createInterface } from "node:readline";
import { CanonicalRequestSchema } from "../src/canonical/request.ts";
import { parseConfig } from "../src/config/env.ts";
import { ApiError, invalidRequest } from "../src/http/errors.ts";
import { decide } from "../src/routing/decide.ts";

const config = parseConfig(process.env);
const perTier = new Map<number, { count: number; cost: number }>();
let batch: string[] = [];
let lineNumber = 0;

function decideLine(line: string): Record<string, unknown> {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { id: null, error: `line ${lineNumber}: not JSON` };
  }
  const id = input.id ?? lineNumber;
  const { id: _, prompt, ...rest } = input;
  const body = typeof prompt === "string" ? { ...rest, messages: [{ role: "user", content: prompt }] } : rest;
  const parsed = CanonicalRequestSchema.safeParse(body);
  if (!parsed.success) return { id, error: invalidRequest(parsed.error).message };
  try {
    const decision = decide(parsed.data, config);
    const tally = perTier.get(decision.tier) ?? { count: 0, cost: 0 };
    tally.count += 1;
    tally.cost += decision.estimatedCostUsd;
    perTier.set(decision.tier, tally);
    return {
      id,
      tier: decision.tier,
      score: decision.score,
      model: decision.model.id,
      estimated_cost_usd: Number(decision.estimatedCostUsd.toFixed(8)),
    };
  } catch (error) {
    if (error instanceof ApiError) return { id, error: error.message };
    throw error;
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  lineNumber += 1;
  if (line.trim() === "") continue;
  batch.push(JSON.stringify(decideLine(line)));
  if (batch.length >= 1_000) {
    process.stdout.write(`${batch.join("\n")}\n`);
    batch = [];
  }
}
if (batch.length > 0) process.stdout.write(`${batch.join("\n")}\n`);

const total = [...perTier.values()].reduce((sum, t) => sum + t.count, 0);
for (const [tier, { count, cost }] of [...perTier.entries()].sort(([a], [b]) => a - b)) {
  process.stderr.write(`tier ${tier}: ${count} prompts (${((100 * count) / total).toFixed(1)}%), estimated $${cost.toFixed(4)}\n`);
}
