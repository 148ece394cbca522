/**
 * The baselines the scorer must beat: random, prompt length, and a keyword-weighted
 * heuristic of the kind LiteLLM ships in its complexity_router, with its published
 * weights (token count 0.10, code 0.30, reasoning markers 0.25, technical terms
 * 0.25, simple indicators -0.05, multi-step patterns 0.03, question complexity 0.02)
 * and keyword lists of our own.
 */

const CODE = [
  "function",
  "class",
  "def ",
  "return",
  "import ",
  "const ",
  "var ",
  "code",
  "python",
  "javascript",
  "java",
  "sql",
  "bug",
  "compile",
  "api",
  "script",
  "```",
  "{",
  "=>",
];
const REASONING = ["why", "explain", "analyze", "analyse", "reason", "prove", "derive", "step by step", "think", "compare", "evaluate", "justify"];
const TECHNICAL = [
  "algorithm",
  "architecture",
  "database",
  "distributed",
  "kubernetes",
  "neural",
  "quantum",
  "regression",
  "protocol",
  "encryption",
  "latency",
  "theorem",
  "integral",
  "matrix",
  "compiler",
  "thermodynamics",
  "molecule",
  "genome",
];
const SIMPLE = ["hi", "hello", "thanks", "thank you", "what is", "who is", "define", "how are you"];
const MULTI_STEP = ["first", "then", "next", "finally", "after that", "step 1", "1.", "2."];

function hits(text: string, words: readonly string[]): number {
  let count = 0;
  for (const word of words) {
    let at = text.indexOf(word);
    while (at !== -1) {
      count += 1;
      at = text.indexOf(word, at + word.length);
    }
  }
  return count;
}

/** A keyword heuristic in LiteLLM's manner: each signal saturates in [0, 1], weighted as published. */
export function keywordHeuristic(prompt: string): number {
  const text = prompt.toLowerCase();
  const tokens = Math.ceil(text.length / 4);
  const questions = (text.match(/\?/g) ?? []).length;
  return (
    0.1 * Math.min(1, tokens / 1_000) +
    0.3 * Math.min(1, hits(text, CODE) / 3) +
    0.25 * Math.min(1, hits(text, REASONING) / 2) +
    0.25 * Math.min(1, hits(text, TECHNICAL) / 2) -
    0.05 * Math.min(1, hits(text, SIMPLE)) +
    0.03 * Math.min(1, hits(text, MULTI_STEP) / 3) +
    0.02 * Math.min(1, Math.max(0, questions - 1) / 2)
  );
}

export const promptLength = (prompt: string): number => prompt.length;
