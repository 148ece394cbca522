/** The complexity scorer: a pure, deterministic score in [0, 1] with the features behind it. */
import type { CanonicalRequest, Message } from "../canonical/request.ts";
import { FEATURES, featureValues } from "./features.ts";
import { DEFAULT_MODEL, type RouterModel, weightsFor } from "./model.ts";
import { countText, emptyCounts, scanText, type TextCounts } from "./scan.ts";
import { questionShape } from "./shape.ts";
import { forEachText, lastUserText } from "./text.ts";

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
  /** Every feature's value in FEATURES order: numbers only, what the audit row keeps for training (`vectorForAudit`). */
  vector: Float64Array;
  /** The model that scored it (RouterModel.version). */
  modelVersion: string;
  /** Every feature that fired, strongest contribution first. */
  features: Feature[];
  promptTokens: number;
};

/**
 * Scores how demanding a chat request is: its turns (not the system prompt, whose tokens count only
 * toward length of context), tools,
 * `response_format` and `max_tokens` count. A logistic model over the named
 * features, with weights of its own for each shape of question (src/routing/shape.ts),
 * learned offline (npm run train:router).
 * @example scoreComplexity({ model: "auto", messages: [{ role: "user", content: "hi" }] }).score // ≈ 0.05
 */
export function scoreComplexity(request: CanonicalRequest, model: RouterModel = DEFAULT_MODEL): Complexity {
  const { values, promptTokens, scannedTokens } = featureVector(request);
  const weights = weightsFor(model, values);
  const features: Feature[] = [];
  // The same sum, in the same order, as scoreOfVector's (a zero adds nothing), so the two give the same score.
  let logit = model.bias;
  for (let i = 0; i < FEATURES.length; i++) {
    const value = values[i]!;
    if (value === 0) continue;
    const contribution = value * weights[i]!;
    logit += contribution;
    const spec = FEATURES[i]!;
    // Length counts what was scanned: a few-shot prompt's question, not its worked examples.
    const label = spec.name === "length" ? `${scannedTokens < promptTokens ? "question" : "prompt"} length (${scannedTokens} tokens)` : spec.label;
    features.push({ name: spec.name, label, value: round(value), contribution: round(contribution) });
  }
  features.sort((a, b) => b.contribution - a.contribution);
  return { score: probability(logit), vector: values, modelVersion: model.version, features, promptTokens };
}

/**
 * The named feature values of a request, in FEATURES order: what the model weighs, and what training learns from.
 * The question of a few-shot prompt is scanned on its own: its worked examples count by their number and length.
 */
export function featureVector(request: CanonicalRequest): { values: Float64Array; promptTokens: number; scannedTokens: number } {
  const counts = emptyCounts();
  const questionText = lastUserText(request.messages);
  const question = questionShape(questionText ?? "");
  let images = 0;
  // The scaffold is not the task: a system prompt (instructor's JSON-mode schema, Claude Code's thousands of tokens
  // on every turn), a client's reminders and the turns already answered say nothing of this turn's difficulty.
  // Their tokens still count, for cost and context windows.
  const { turn: turns, context: scaffold } = splitTurn(request.messages);
  // The scaffold is counted for its length alone: nothing in it is weighed.
  const scaffoldCounts = emptyCounts();
  forEachText(scaffold, (text) => countText(text, scaffoldCounts));
  forEachText(
    turns,
    // A text equal to the question (the same words sent twice) is read as the question too. The slice of a few-shot
    // prompt's question shares the text's memory; a start offset in scanText's loop instead costs its every character more.
    (text) => scanText(question.questionStart > 0 && text === questionText ? text.slice(question.questionStart) : text, counts),
    () => (images += 1),
  );
  // The examples were not scanned; the token estimate (context window, cost) still counts them.
  const scannedTokens = estimateTokens(counts, turns.length);
  const promptTokens = scannedTokens + Math.ceil(question.questionStart / 4) + (scaffold.length === 0 ? 0 : estimateTokens(scaffoldCounts, scaffold.length));
  return { promptTokens, scannedTokens, values: featureValues({ counts, request, promptTokens, scannedTokens, images, question }) };
}

/** Text parts an agent client adds to a user turn for itself (Claude Code's `<system-reminder>` blocks). */
const REMINDER = /^\s*<system-reminder>/;

/**
 * The turn being answered, and its context. The turn: the last user message, and any
 * user text after the last assistant message, without a client's reminders. What a turn
 * of tool results asks is what the user asked: a file read or a command's output is data
 * the model reads, not the task, so a turn that only brings tool results back is scored
 * by the request it serves. The context: system and developer messages, the turns already
 * answered (the assistant's tool calls among them), tool results, and the reminders.
 */
function splitTurn(messages: readonly Message[]): { turn: Message[]; context: Message[] } {
  let lastAssistant = -1;
  let lastUser = -1;
  messages.forEach((message, i) => {
    if (message.role === "assistant") lastAssistant = i;
    if (message.role === "user") lastUser = i;
  });
  const turn: Message[] = [];
  const context: Message[] = [];
  for (const [i, message] of messages.entries()) {
    if (message.role === "system" || message.role === "developer" || message.role === "tool" || (i <= lastAssistant && i !== lastUser)) {
      context.push(message);
      continue;
    }
    const reminders =
      message.role === "user" && Array.isArray(message.content) ? message.content.filter((part) => part.type === "text" && REMINDER.test(part.text)) : [];
    if (reminders.length === 0) {
      turn.push(message);
      continue;
    }
    context.push({ role: "user", content: reminders } as Message);
    const rest = (message.content as typeof reminders).filter((part) => !reminders.includes(part));
    if (rest.length > 0) turn.push({ ...message, content: rest } as Message);
  }
  return { turn, context };
}

/**
 * Roughly four ASCII characters per token, one per other character, and a few
 * tokens of framing per message: good enough to check context windows and estimate cost.
 */
function estimateTokens(counts: TextCounts, messages: number): number {
  return Math.ceil((counts.chars - counts.nonAscii) / 4) + counts.nonAscii + 4 * messages;
}

/** The score of a feature vector: a request's, or an audit row's `features`. */
export function scoreOfVector(values: ArrayLike<number>, model: RouterModel = DEFAULT_MODEL): number {
  const weights = weightsFor(model, values);
  let logit = model.bias;
  for (let i = 0; i < FEATURES.length; i++) logit += (values[i] ?? 0) * weights[i]!;
  return probability(logit);
}

const probability = (logit: number): number => round(1 / (1 + Math.exp(-logit)));

/** The vector as the audit row keeps it: plain numbers, rounded (made after the response, not on the request path). */
export const vectorForAudit = (values: Float64Array): number[] => Array.from(values, round);
const round = (x: number): number => Math.round(x * 1e4) / 1e4;
