/**
 * `npm run bench:score` (and part of `npm run bench`): µs to score a 100-, 1k- and 10k-token prompt, against a
 * baseline measured in the same run: JSON.parse of the same request body, work the
 * router does for every request anyway. Prompts are real benchmark text from
 * ../shared/bench/data when present, else generated.
 */
import { existsSync, readFileSync } from "node:fs";
import { type CanonicalRequest, CanonicalRequestSchema } from "../../src/canonical/request.ts";
import { scoreComplexity } from "../../src/routing/score.ts";
import { measureSessionDecision } from "./session-decision.ts";

const DATA = new URL("../../../shared/bench/data/arena_hard_v0.1.jsonl", import.meta.url);

function corpus(): string {
  if (!existsSync(DATA)) return "Prove that the algorithm terminates. ```js\nconst x = f(y);\n``` Explain why, step by step.\n".repeat(2_000);
  return readFileSync(DATA, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { prompt: string }).prompt)
    .join("\n\n");
}

/** Median µs per call over `rounds` timed batches of `calls` calls. */
function measure(fn: () => unknown, calls: number, rounds: number): number {
  for (let i = 0; i < calls; i++) fn(); // warm up
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) fn();
    perCall.push(((performance.now() - start) * 1000) / calls);
  }
  return perCall.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

export type ScoreRow = { tokens: number; promptTokens: number; scoreUs: number; parseUs: number };

/** µs per scoring of a 100-, 1k- and 10k-token prompt, with JSON.parse of the same body as the baseline. */
export function measureScoring(rounds = 7): ScoreRow[] {
  const text = corpus();
  return [100, 1_000, 10_000].map((tokens) => {
    const body = JSON.stringify({ model: "auto", messages: [{ role: "user", content: text.slice(0, tokens * 4) }] });
    const request: CanonicalRequest = CanonicalRequestSchema.parse(JSON.parse(body));
    const calls = Math.max(200, Math.floor(2_000_000 / tokens));
    return {
      tokens,
      promptTokens: scoreComplexity(request).promptTokens,
      scoreUs: measure(() => scoreComplexity(request), calls, rounds),
      parseUs: measure(() => JSON.parse(body), calls, rounds),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = measureScoring();
  console.log("prompt      est. tokens   score µs   JSON.parse µs   score / parse");
  for (const row of rows) {
    console.log(
      `${`${row.tokens}-token`.padEnd(12)}${String(row.promptTokens).padStart(11)}${row.scoreUs.toFixed(2).padStart(11)}${row.parseUs.toFixed(2).padStart(16)}${(row.scoreUs / row.parseUs).toFixed(2).padStart(16)}`,
    );
  }
  const [small, , large] = rows;
  console.log(`10k/100 time ratio: ${(large!.scoreUs / small!.scoreUs).toFixed(1)} for ${(large!.promptTokens / small!.promptTokens).toFixed(1)}x the tokens`);
  const session = await measureSessionDecision(corpus().slice(0, 4_000));
  const both = (timing: { wallUs: number; cpuUs: number }): string => `${timing.wallUs.toFixed(2)} µs (CPU ${timing.cpuUs.toFixed(2)} µs)`;
  console.log(`decision of a 1k-token turn with the session's key, look-up and rules: ${both(session.withSession)}; goal at most 50 µs`);
  console.log(`the same decision without a session: ${both(session.without)}`);
}
