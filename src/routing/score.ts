/** The complexity scorer: a pure, deterministic score in [0, 1] with the features behind it. */
import { requestedOutputTokens, type ChatRequest } from "../openai/chat-request.ts";
import { emptyCounts, scanText, type TextCounts } from "./scan.ts";
import { SIGNALS, type Signal } from "./lexicon.ts";
import { forEachText } from "./text.ts";

export type Feature = {
  name: string;
  /** What the feature means, in words a user understands. */
  label: string;
  /** The feature's strength in [0, 1]. */
  value: number;
  /** Its signed contribution to the score's logit. */
  contribution: number;
};

export type Complexity = {
  score: number;
  /** Every feature that fired, strongest contribution first. */
  features: Feature[];
  promptTokens: number;
};

/** Saturates a count: 0 → 0, k → 0.5, many → 1. */
const saturate = (x: number, k: number): number => (x <= 0 ? 0 : x / (x + k));

const BIAS = -2.4;

/** Weight and half-saturation count of each lexicon signal, and how to say it. */
const SIGNAL_WEIGHTS: Record<Signal, { weight: number; half: number; label: string }> = {
  code: { weight: 1.5, half: 3, label: "code" },
  math: { weight: 1.3, half: 3, label: "mathematics" },
  proof: { weight: 2.0, half: 1, label: "proof or derivation request" },
  reasoning: { weight: 1.1, half: 2, label: "asks for analysis or explanation" },
  design: { weight: 1.4, half: 2, label: "system or architecture design" },
  multistep: { weight: 0.9, half: 3, label: "multi-step instructions" },
  constraint: { weight: 0.6, half: 3, label: "explicit constraints" },
  smalltalk: { weight: -1.8, half: 1, label: "greeting or small talk" },
  factoid: { weight: -0.7, half: 1, label: "short factual question" },
  creative: { weight: 0.4, half: 1, label: "creative writing" },
};

/**
 * Scores how demanding a chat request is: all turns, the system prompt, tools,
 * `response_format` and `max_tokens` count.
 * @example scoreComplexity({ model: "auto", messages: [{ role: "user", content: "hi" }] }).score // ≈ 0.04
 */
export function scoreComplexity(request: ChatRequest): Complexity {
  const counts = emptyCounts();
  let images = 0;
  forEachText(request.messages, (text) => scanText(text, counts), () => (images += 1));
  const features: Feature[] = [];
  const add = (name: string, label: string, value: number, weight: number): void => {
    if (value !== 0) features.push({ name, label, value: round(value), contribution: round(value * weight) });
  };

  const promptTokens = estimateTokens(counts, request.messages.length);
  add("length", `prompt length (${promptTokens} tokens)`, Math.min(1, Math.log2(1 + promptTokens) / 12), 1.3);
  add("long_context", "long context", saturate(promptTokens - 8_000, 24_000), 0.8);
  SIGNALS.forEach((signal, index) => {
    const { weight, half, label } = SIGNAL_WEIGHTS[signal];
    add(signal, label, saturate(counts.signals[index]!, half), weight);
  });
  add("code_syntax", "code block or code syntax", saturate(codeSyntax(counts), 6), 1.0);
  add("math_notation", "mathematical notation", saturate(counts.mathSymbols, 8), 0.7);
  add("structure", "numbered or bulleted list of tasks", saturate(counts.listItems, 3), 0.6);
  add("questions", "several questions at once", saturate(counts.questions - 1, 2), 0.4);
  add("language", "non-English text", counts.chars === 0 ? 0 : Math.min(1, (2 * counts.nonAscii) / counts.chars), 0.4);
  add("turns", "long conversation", saturate(request.messages.length - 1, 6), 0.4);
  add("tools", "tool use", saturate(request.tools?.length ?? 0, 2), 0.7);
  add("structured_output", "structured JSON output", structuredOutput(request), 0.5);
  add("images", "image input", saturate(images, 1), 0.5);
  add("long_output", "long answer requested", longOutput(requestedOutputTokens(request)), 0.6);

  let logit = BIAS;
  for (const feature of features) logit += feature.contribution;
  features.sort((a, b) => b.contribution - a.contribution);
  return { score: round(1 / (1 + Math.exp(-logit))), features, promptTokens };
}

/**
 * Roughly four ASCII characters per token, one per other character, and a few
 * tokens of framing per message: good enough to check context windows and estimate cost.
 */
function estimateTokens(counts: TextCounts, messages: number): number {
  return Math.ceil((counts.chars - counts.nonAscii) / 4) + counts.nonAscii + 4 * messages;
}

function codeSyntax(counts: TextCounts): number {
  const symbolDensity = counts.chars === 0 ? 0 : counts.codeSymbols / (counts.chars / 100);
  return 3 * counts.codeFences + Math.min(counts.codeSymbols, 3 * symbolDensity);
}

function structuredOutput(request: ChatRequest): number {
  const format = request.response_format?.type;
  return format === "json_schema" ? 1 : format === "json_object" ? 0.6 : 0;
}

function longOutput(maxTokens: number | undefined): number {
  if (maxTokens === undefined || maxTokens <= 1_024) return 0;
  return Math.min(1, Math.log2(maxTokens / 1_024) / 4);
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
