/**
 * Words and phrases that signal how hard a prompt is, looked up by hash so the
 * scanner never allocates a string per word.
 */

export const SIGNALS = ["code", "math", "proof", "reasoning", "design", "multistep", "constraint", "smalltalk", "factoid", "creative"] as const;
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

/**
 * FNV-1a, masked to 30 bits: V8 keeps such numbers as small integers, so a Map
 * lookup by hash never boxes a heap number (which made scoring superlinear).
 */
const FNV_OFFSET = 0x011c9dc5;
const FNV_PRIME = 0x01000193;
const MASK = 0x3fffffff;

/** The hash of a word as the scanner builds it, one lower-cased character at a time. */
export function hashStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME) & MASK;
}

/** The hash of a phrase: the previous words' hash combined with the next word's. */
export function joinHash(previous: number, word: number): number {
  return (Math.imul(previous ^ 0x1e3779b9, FNV_PRIME) ^ word) & MASK;
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

/**
 * Signal bit flags by hash, in an open-addressing table on typed arrays: three
 * lookups per word (word, pair, triple) cost a few nanoseconds, a Map's ten times that.
 */
const SLOTS = 1 << 12;
const SLOT_MASK = SLOTS - 1;
const EMPTY = -1;
const keys = new Int32Array(SLOTS).fill(EMPTY);
const flags = new Uint16Array(SLOTS);

/** The signals (bit i = `SIGNALS[i]`) of a word or phrase hash; 0 when it carries none. */
export function signalFlags(hash: number): number {
  let slot = hash & SLOT_MASK;
  for (;;) {
    const key = keys[slot]!;
    if (key === hash) return flags[slot]!;
    if (key === EMPTY) return 0;
    slot = (slot + 1) & SLOT_MASK;
  }
}

function insert(hash: number, bit: number): void {
  let slot = hash & SLOT_MASK;
  while (keys[slot] !== EMPTY && keys[slot] !== hash) slot = (slot + 1) & SLOT_MASK;
  keys[slot] = hash;
  flags[slot]! |= 1 << bit;
}

/**
 * The flag of a word, or a pair of words, that begins a longer phrase: the scanner looks a phrase up only after one,
 * so most words cost one lookup instead of three. Above every signal's bit.
 */
const STARTS_PHRASE_BIT = 15;
export const STARTS_PHRASE = 1 << STARTS_PHRASE_BIT;

/** Fills the table; a hash collision between two different entries throws at load. */
function build(): number {
  const owner = new Map<number, string>();
  const add = (text: string, bit: number, hash: number): void => {
    const seen = owner.get(hash);
    if (seen !== undefined && seen !== text) throw new Error(`lexicon hash collision: ${seen} / ${text}`);
    owner.set(hash, text);
    insert(hash, bit);
  };
  SIGNALS.forEach((signal, bit) => {
    for (const word of WORDS[signal].split(/\s+/).filter(Boolean)) add(word, bit, hashWord(word));
    for (const phrase of PHRASES[signal]) {
      add(phrase, bit, hashPhrase(phrase));
      // Its first word, and its first two when it has three: what the scanner can look a phrase up after.
      const words = phrase.split(" ");
      add(words[0]!, STARTS_PHRASE_BIT, hashWord(words[0]!));
      const firstTwo = words.slice(0, 2).join(" ");
      if (words.length > 2) add(firstTwo, STARTS_PHRASE_BIT, hashPhrase(firstTwo));
    }
  });
  if (owner.size > SLOTS / 4) throw new Error("lexicon table too full: raise SLOTS");
  return owner.size;
}

/** How many distinct words, phrases and phrase beginnings the lexicon holds. */
export const LEXICON_SIZE = build();
