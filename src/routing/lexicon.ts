/**
 * Words and phrases that signal how hard a prompt is, looked up by hash so the
 * scanner never allocates a string per word.
 */

export const SIGNALS = [
  "code",
  "math",
  "proof",
  "reasoning",
  "design",
  "multistep",
  "constraint",
  "smalltalk",
  "factoid",
  "creative",
] as const;
export type Signal = (typeof SIGNALS)[number];

const WORDS: Record<Signal, string> = {
  code: `function class def return import const let var async await lambda python javascript typescript java
    rust golang kotlin swift cpp sql select insert join api endpoint bug debug compile compiler regex algorithm
    implement implementation refactor code script program html css json yaml docker kubernetes database query
    exception stacktrace runtime recursion pointer struct interface typescript node react unittest
    segfault thread mutex async`,
  math: `integral derivative equation equations solve probability matrix eigenvalue eigenvalues polynomial
    prime primes modulo mod inequality inequalities limit series geometry triangle calculate compute
    sqrt logarithm log exponent factorial combinatorics permutations combinations vector vectors
    algebra calculus theorem lemma corollary infinitely integer integers rational irrational divisible
    congruent converge converges convergence differentiable continuous bijection isomorphism`,
  proof: "prove proof proofs rigorous rigorously theorem lemma derive derivation qed induction contradiction",
  reasoning: `why explain analyze analyse analysis compare contrast evaluate justify reasoning tradeoff
    tradeoffs implications critique assess hypothesize infer deduce consequences nuanced pros cons`,
  design: `design architecture architect scalable scalability distributed system systems optimize
    optimise optimization concurrency consistency fault tolerant latency throughput microservices
    sharding replication consensus protocol migration strategy`,
  multistep: "first then next finally step steps afterwards subsequently additionally lastly secondly thirdly",
  constraint: `must exactly ensure without strictly avoid constraint constraints requirement requirements
    format limit words sentences bullet bullets`,
  smalltalk: `hi hello hey hiya thanks thank thx bye goodbye lol ok okay cool yo sup howdy greetings`,
  factoid: "define definition capital",
  creative: "story poem essay haiku lyrics fiction narrative novel character characters",
};

const PHRASES: Record<Signal, string[]> = {
  code: ["write a function", "time complexity", "unit tests", "edge cases"],
  math: ["how many", "find all", "real numbers", "positive integers"],
  proof: ["prove that", "show that", "step by step proof", "formal proof"],
  reasoning: ["step by step", "think through", "root cause"],
  design: ["system design", "design a", "high availability", "trade offs"],
  multistep: ["step by step", "and then", "after that", "for each"],
  constraint: ["at least", "at most", "no more than", "make sure", "do not"],
  smalltalk: ["how are you", "good morning", "good night", "what's up", "nice to meet you"],
  factoid: ["what is", "who is", "who was", "when did", "where is", "what does", "meaning of"],
  creative: ["write a story", "write a poem", "once upon"],
};

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The hash of a word as the scanner builds it, one lower-cased character at a time. */
export function hashStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME) >>> 0;
}

/** The hash of a phrase: the previous words' hash combined with the next word's. */
export function joinHash(previous: number, word: number): number {
  return (Math.imul(previous ^ 0x9e3779b9, FNV_PRIME) ^ word) >>> 0;
}

export function hashWord(word: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) hash = hashStep(hash, word.charCodeAt(i));
  return hash;
}

export const WORD_START = FNV_OFFSET;

export function hashPhrase(phrase: string): number {
  const words = phrase.split(" ").map(hashWord);
  return words.slice(1).reduce(joinHash, words[0]!);
}

/** Bit flags of signals per hash; a word may carry several (e.g. "prove" is proof, "theorem" math and proof). */
function buildTable(): Map<number, number> {
  const table = new Map<number, number>();
  const owner = new Map<number, string>();
  const add = (text: string, signal: number, hash: number): void => {
    const seen = owner.get(hash);
    if (seen !== undefined && seen !== text) throw new Error(`lexicon hash collision: ${seen} / ${text}`);
    owner.set(hash, text);
    table.set(hash, (table.get(hash) ?? 0) | (1 << signal));
  };
  SIGNALS.forEach((signal, bit) => {
    for (const word of WORDS[signal].split(/\s+/).filter(Boolean)) add(word, bit, hashWord(word));
    for (const phrase of PHRASES[signal]) add(phrase, bit, hashPhrase(phrase));
  });
  return table;
}

export const LEXICON: ReadonlyMap<number, number> = buildTable();
