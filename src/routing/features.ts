/** The named features of a request: what the scorer weighs and how it explains itself. */
import { type CanonicalRequest, requestedOutputTokens } from "../canonical/request.ts";
import { SIGNALS } from "./lexicon.ts";
import type { TextCounts } from "./scan.ts";
import { type QuestionShape, SHAPES, type Shape } from "./shape.ts";

/** Saturates a count: 0 → 0, k → 0.5, many → 1. */
const saturate = (x: number, k: number): number => (x <= 0 ? 0 : x / (x + k));

export type FeatureSpec = {
  name: string;
  /** What the feature means, in words a user understands. */
  label: string;
  /** The sign its learned weight must keep: +1 raises the score, -1 lowers it, 0 either (a question's shape). */
  sign: 1 | -1 | 0;
  /** Hand-set weight: the starting point of training, and the weight of a feature the training data never shows. */
  prior: number;
};

type Context = {
  counts: TextCounts;
  request: CanonicalRequest;
  /** Every token of the request, worked examples included. */
  promptTokens: number;
  /** The tokens scanned: all but a few-shot prompt's worked examples. */
  scannedTokens: number;
  images: number;
  question: QuestionShape;
};

const SIGNAL_FEATURES: Record<(typeof SIGNALS)[number], FeatureSpec & { half: number }> = {
  code: { name: "code", label: "code", sign: 1, prior: 1.5, half: 3 },
  math: { name: "math", label: "mathematics", sign: 1, prior: 1.3, half: 3 },
  proof: { name: "proof", label: "proof or derivation request", sign: 1, prior: 2, half: 1 },
  reasoning: { name: "reasoning", label: "asks for analysis or explanation", sign: 1, prior: 1.1, half: 2 },
  design: { name: "design", label: "system or architecture design", sign: 1, prior: 1.4, half: 2 },
  multistep: { name: "multistep", label: "multi-step instructions", sign: 1, prior: 0.9, half: 3 },
  constraint: { name: "constraint", label: "explicit constraints", sign: 1, prior: 0.6, half: 3 },
  smalltalk: { name: "smalltalk", label: "greeting or small talk", sign: -1, prior: -1.8, half: 1 },
  factoid: { name: "factoid", label: "short factual question", sign: -1, prior: -0.7, half: 1 },
  creative: { name: "creative", label: "creative writing", sign: 1, prior: 0.4, half: 1 },
};

const SHAPE_LABELS: Record<Shape, string> = {
  plain: "plain question",
  few_shot: "question after worked examples",
  multiple_choice: "multiple-choice question",
  word_problem: "word problem with quantities",
};

/** Every feature with how its value in [0, 1] is computed; the model holds one weight per entry, in this order. */
export const FEATURES: (FeatureSpec & { value: (x: Context) => number })[] = [
  { name: "length", label: "prompt length", sign: 1, prior: 1.3, value: (x) => Math.min(1, Math.log2(1 + x.scannedTokens) / 12) },
  { name: "long_context", label: "long context", sign: 1, prior: 0.8, value: (x) => saturate(x.promptTokens - 8_000, 24_000) },
  ...SIGNALS.map((signal, index) => ({ ...SIGNAL_FEATURES[signal], value: (x: Context) => saturate(x.counts.signals[index]!, SIGNAL_FEATURES[signal].half) })),
  { name: "code_syntax", label: "code block or code syntax", sign: 1, prior: 1, value: (x) => saturate(codeSyntax(x.counts), 6) },
  { name: "math_notation", label: "mathematical notation", sign: 1, prior: 0.7, value: (x) => saturate(x.counts.mathSymbols, 8) },
  { name: "structure", label: "numbered or bulleted list of tasks", sign: 1, prior: 0.6, value: (x) => saturate(x.counts.listItems, 3) },
  { name: "questions", label: "several questions at once", sign: 1, prior: 0.4, value: (x) => saturate(x.counts.questions - 1, 2) },
  { name: "quantities", label: "many quantities to work with", sign: 1, prior: 0.3, value: (x) => saturate(x.counts.numbers, 6) },
  { name: "sentences", label: "many sentences", sign: 1, prior: 0.3, value: (x) => saturate(x.counts.sentences, 6) },
  {
    name: "vocabulary",
    label: "long, technical words",
    sign: 1,
    prior: 0.3,
    value: (x) => (x.counts.words === 0 ? 0 : Math.min(1, Math.max(0, (x.counts.wordChars / x.counts.words - 4) / 3))),
  },
  {
    name: "language",
    label: "non-English text",
    sign: 1,
    prior: 0.4,
    value: (x) => (x.counts.chars === 0 ? 0 : Math.min(1, (2 * x.counts.nonAscii) / x.counts.chars)),
  },
  {
    name: "turns",
    label: "long conversation",
    sign: 1,
    prior: 0.4,
    value: (x) => saturate(x.request.messages.filter((m) => m.role !== "system" && m.role !== "developer").length - 1, 6),
  },
  { name: "tools", label: "tool use", sign: 1, prior: 0.7, value: (x) => saturate(x.request.tools?.length ?? 0, 2) },
  { name: "structured_output", label: "structured JSON output", sign: 1, prior: 0.5, value: (x) => structuredOutput(x.request) },
  { name: "images", label: "image input", sign: 1, prior: 0.5, value: (x) => saturate(x.images, 1) },
  { name: "long_output", label: "long answer requested", sign: 1, prior: 0.6, value: (x) => longOutput(requestedOutputTokens(x.request)) },
  { name: "examples", label: "worked examples before the question", sign: 1, prior: 0, value: (x) => saturate(x.question.examples, 3) },
  {
    name: "examples_length",
    label: "length of the worked examples",
    sign: 1,
    prior: 0,
    // The examples are not in the scanned text (the question is scored on its own): about four characters a token.
    value: (x) => Math.min(1, Math.log2(1 + x.question.questionStart / 4) / 12),
  },
  // One per shape but plain: 1 for the request's shape. Each shape has weights of its own (RouterModel.shapeWeights).
  ...SHAPES.slice(1).map((shape) => ({
    name: shape,
    label: SHAPE_LABELS[shape],
    sign: 0 as const,
    prior: 0,
    value: (x: Context) => (x.question.shape === shape ? 1 : 0),
  })),
];

/** Where each shape's indicator sits in a feature vector, in SHAPES order (-1 for plain, which has none). */
export const SHAPE_FEATURE = SHAPES.map((shape) => FEATURES.findIndex((f) => f.name === shape));

export function featureValues(context: Context): Float64Array {
  const values = new Float64Array(FEATURES.length);
  for (let i = 0; i < FEATURES.length; i++) values[i] = FEATURES[i]!.value(context);
  return values;
}

function codeSyntax(counts: TextCounts): number {
  const symbolDensity = counts.chars === 0 ? 0 : counts.codeSymbols / (counts.chars / 100);
  return 3 * counts.codeFences + Math.min(counts.codeSymbols, 3 * symbolDensity);
}

function structuredOutput(request: CanonicalRequest): number {
  const format = request.response_format?.type;
  return format === "json_schema" ? 1 : format === "json_object" ? 0.6 : 0;
}

function longOutput(maxTokens: number | undefined): number {
  if (maxTokens === undefined || maxTokens <= 1_024) return 0;
  return Math.min(1, Math.log2(maxTokens / 1_024) / 4);
}
