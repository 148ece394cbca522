import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { hashPhrase, hashWord, LEXICON_SIZE, SIGNALS, STARTS_PHRASE, signalFlags } from "../../src/routing/lexicon.ts";
import { DEFAULT_THRESHOLDS } from "../../src/routing/model.ts";
import { countText, emptyCounts, scanText } from "../../src/routing/scan.ts";
import { scoreComplexity } from "../../src/routing/score.ts";
import { parseThresholds } from "../../src/routing/thresholds.ts";
import { selectTier } from "../../src/routing/tier.ts";

const ask = (content: string, extra: Partial<CanonicalRequest> = {}): CanonicalRequest =>
  ({ model: "auto", messages: [{ role: "user", content }], ...extra }) as CanonicalRequest;
const score = (content: string, extra: Partial<CanonicalRequest> = {}): number => scoreComplexity(ask(content, extra)).score;

const PROOF =
  "Prove that there are infinitely many primes congruent to 3 mod 4. Give a rigorous proof, then show that the argument fails for primes congruent to 1 mod 4.";
const DESIGN =
  "Design a globally distributed rate limiter for an API gateway at 1M requests per second. Discuss consistency, fault tolerance and latency trade-offs, then the sharding strategy.\n1. Requirements\n2. Architecture\n3. Failure modes";

describe("scoreComplexity", () => {
  it("is deterministic", () => {
    const first = scoreComplexity(ask(DESIGN));
    const second = scoreComplexity(ask(DESIGN));
    expect(second).toEqual(first);
  });

  it("stays in [0, 1] for empty, tiny and huge prompts", () => {
    for (const text of ["", "a", "prove ".repeat(50_000), "x".repeat(1_000_000)]) {
      const value = score(text);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
  });

  it("puts a greeting in tier 1 or 2 and a proof or a system design in tier 4 or 5, at the shipped thresholds", () => {
    const cuts = parseThresholds(DEFAULT_THRESHOLDS);
    expect(selectTier(score("Hello! How are you today?"), cuts)).toBeLessThanOrEqual(2);
    expect(selectTier(score("thanks!"), cuts)).toBeLessThanOrEqual(2);
    expect(selectTier(score(PROOF), cuts)).toBeGreaterThanOrEqual(4);
    expect(selectTier(score(DESIGN), cuts)).toBeGreaterThanOrEqual(4);
  });

  it("does not lower the score when a proof request is added", () => {
    const base = "Consider the sequence a(n) = n^2 + n + 41 for positive integers n.";
    expect(score(`${base} Prove that a(40) is not prime.`)).toBeGreaterThan(score(base));
  });

  it("does not lower the score when code, constraints or steps are added", () => {
    const base = "Summarise this function.";
    expect(score(`${base}\n\`\`\`ts\nfunction f(x: number) { return x * 2; }\n\`\`\``)).toBeGreaterThan(score(base));
    expect(score(`${base} You must use exactly three bullets and at most 50 words.`)).toBeGreaterThan(score(base));
    expect(score(`${base} First list the inputs, then the outputs, finally the side effects.`)).toBeGreaterThan(score(base));
  });

  it("counts the system prompt, earlier turns, tools, response_format and max_tokens", () => {
    const plain = ask("Reply with the weather.");
    const richer: CanonicalRequest = {
      ...plain,
      messages: [
        { role: "system", content: "You are a careful analyst. Explain your reasoning and compare alternatives." },
        { role: "user", content: "Earlier question about the algorithm's time complexity." },
        { role: "assistant", content: "It is O(n log n)." },
        { role: "user", content: "Reply with the weather." },
      ],
    };
    const withTools: CanonicalRequest = {
      ...plain,
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
    };
    const withSchema: CanonicalRequest = {
      ...plain,
      response_format: { type: "json_schema", json_schema: { name: "weather" } },
    };
    const withLongOutput: CanonicalRequest = { ...plain, max_tokens: 16_000 };
    const base = scoreComplexity(plain).score;
    for (const variant of [richer, withTools, withSchema, withLongOutput]) {
      expect(scoreComplexity(variant).score).toBeGreaterThan(base);
    }
  });

  it("reads text inside content parts and counts images", () => {
    const parts = scoreComplexity({
      model: "auto",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Prove that the triangle in this picture is isosceles." },
            { type: "image_url", image_url: { url: "https://example.com/t.png" } },
          ],
        },
      ],
    } as CanonicalRequest);
    const names = parts.features.map((feature) => feature.name);
    expect(names).toContain("proof");
    expect(names).toContain("images");
  });

  it("explains itself: features carry labels, strongest first", () => {
    const { features } = scoreComplexity(ask(PROOF));
    expect(features.slice(0, 3).map((f) => f.label)).toContain("proof or derivation request");
    for (let i = 1; i < features.length; i++) {
      expect(features[i - 1]!.contribution).toBeGreaterThanOrEqual(features[i]!.contribution);
    }
  });

  it("estimates tokens linearly in the prompt's size", () => {
    const small = scoreComplexity(ask("word ".repeat(1_000))).promptTokens;
    const large = scoreComplexity(ask("word ".repeat(10_000))).promptTokens;
    expect(large / small).toBeGreaterThan(9.5);
    expect(large / small).toBeLessThan(10.5);
  });

  it("survives hostile text: invalid surrogates, control characters, endless punctuation", () => {
    for (const text of ["\ud800".repeat(10_000), "\u0000\u0001".repeat(10_000), "```".repeat(100_000), "1.\n".repeat(50_000)]) {
      const result = scoreComplexity(ask(text));
      expect(Number.isFinite(result.score)).toBe(true);
    }
  });
});

describe("hostile input", () => {
  // Not a speed target (those live in npm run bench:score): a bound that only a
  // quadratic blow-up could break. Each of these megabytes takes milliseconds.
  const MEGABYTE = 1 << 20;
  const HOSTILE: Record<string, string> = {
    "one endless word": "a".repeat(MEGABYTE),
    "endless backticks": "`".repeat(MEGABYTE),
    "a list item per line": "1.\n".repeat(MEGABYTE / 3),
    "phrases that almost match": "step by ste ".repeat(MEGABYTE / 12),
    "alternating word and symbol": "x{".repeat(MEGABYTE / 2),
    "non-Latin text": "数学证明".repeat(MEGABYTE / 4),
  };

  it.each(Object.keys(HOSTILE))("scores %s (1 MB) in bounded time", (name) => {
    const started = performance.now();
    const result = scoreComplexity(ask(HOSTILE[name]!));
    expect(performance.now() - started).toBeLessThan(500);
    expect(result.score).toBeGreaterThanOrEqual(0);
    expect(result.score).toBeLessThanOrEqual(1);
  });
});

describe("the lexicon", () => {
  it("holds every word and phrase under its own hash (a collision throws at load)", () => {
    expect(LEXICON_SIZE).toBeGreaterThan(200);
  });

  it("finds words and phrases with their signals, and nothing for other words", () => {
    const bit = (signal: (typeof SIGNALS)[number]): number => 1 << SIGNALS.indexOf(signal);
    expect(signalFlags(hashWord("theorem"))).toBe(bit("math") | bit("proof"));
    expect(signalFlags(hashPhrase("step by step"))).toBe(bit("reasoning") | bit("multistep"));
    expect(signalFlags(hashWord("banana"))).toBe(0);
  });

  it("finds two- and three-word phrases anywhere in a line, and never across lines", () => {
    const signalsOf = (text: string): number[] => {
      const counts = emptyCounts();
      scanText(text, counts);
      return Array.from(counts.signals);
    };
    const count = (text: string, signal: (typeof SIGNALS)[number]): number => signalsOf(text)[SIGNALS.indexOf(signal)]!;
    expect(count("please compute the time complexity here", "code")).toBe(1); // two words
    expect(count("now write a function that sorts", "code")).toBe(2); // "function", and the three words: "write" and "write a" begin it
    expect(count("use no more than three", "constraint")).toBe(1);
    expect(count("write a\nfunction that sorts", "code")).toBe(1); // "function" alone: a line break parts a phrase
    expect(count("time\ncomplexity", "code")).toBe(0);
    expect(count("write write a function", "code")).toBe(2); // a phrase's first word repeated
    // The flag that marks a phrase's start is no signal of its own.
    expect(signalsOf("write a story").reduce((a, b) => a + b, 0)).toBe(count("write a story", "creative") + count("write a story", "code"));
    expect(signalFlags(hashWord("write")) & STARTS_PHRASE).toBe(STARTS_PHRASE);
  });
});

describe("the context's count", () => {
  it("adds the same length and characters outside ASCII as a full scan, for ASCII, accented and astral texts", () => {
    for (const text of [
      "",
      "plain ASCII text, with code: const x = [1, 2];",
      "café naïve résumé",
      "日本語のテキスト 🎉 and emoji 👩‍💻",
      "\u0080\u00ff\uffff",
    ]) {
      const scanned = emptyCounts();
      scanText(text, scanned);
      const counted = emptyCounts();
      countText(text, counted);
      expect({ chars: counted.chars, nonAscii: counted.nonAscii }).toEqual({ chars: scanned.chars, nonAscii: scanned.nonAscii });
    }
  });
});
