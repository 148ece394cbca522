/**
 * The shape of the question a request asks (its last user text): worked examples
 * then a question (few-shot), a multiple-choice question, a word problem, or plain.
 * Each shape has weights of its own: what makes a multiple-choice question hard for
 * a cheap model is not what makes a chat prompt hard. Told by layout alone: one pass
 * over the lines (only for a text ending in ":"), then native substring searches and
 * regular expressions: well under a µs for 1k tokens.
 */

/** In the order of the model's per-shape weights; "plain" is the base weights. */
export const SHAPES = ["plain", "few_shot", "multiple_choice", "word_problem"] as const;
export type Shape = (typeof SHAPES)[number];

export type QuestionShape = {
  shape: Shape;
  /** Where the question starts: after the worked examples of a few-shot prompt, else 0. */
  questionStart: number;
  /** Worked examples before the question (few-shot only). */
  examples: number;
};

const PLAIN: QuestionShape = { shape: "plain", questionStart: 0, examples: 0 };

/** An answer under its label ("Answer:\nB") is this short at most. */
const MAX_ANSWER = 40;

/**
 * Few-shot: blocks (parted by blank lines) that end in a short answer under a line
 * ending in ":", then a last block that ends in ":", its answer left open.
 * Multiple choice: option lines "A." / "A)" / "(A)" and "B" likewise.
 * Word problem: ends in "?", holds two or more numbers and no notation ($ \ { }).
 */
export function questionShape(text: string): QuestionShape {
  const [, textEnd] = trimmed(text, 0, text.length);
  const endsInColon = textEnd > 0 && text.charCodeAt(textEnd - 1) === 58; // ":"
  if (!endsInColon) return otherShape(text, textEnd);
  let answered = 0;
  let blockStart = 0; // the current block's first line
  let lines = 0; // lines in the current block
  let previousEndsInColon = false; // the line before the current one, within the block
  let blockAnswered = false;
  let position = 0;
  while (position < textEnd) {
    let end = text.indexOf("\n", position);
    if (end === -1 || end > textEnd) end = textEnd;
    const [first, last] = trimmed(text, position, end);
    if (first === last) {
      // A blank line closes a block.
      if (blockAnswered) answered += 1;
      lines = 0;
      blockAnswered = false;
      previousEndsInColon = false;
    } else {
      if (lines === 0) blockStart = position;
      lines += 1;
      blockAnswered = lines >= 2 && previousEndsInColon && last - first <= MAX_ANSWER;
      previousEndsInColon = text.charCodeAt(last - 1) === 58; // ":"
    }
    position = end + 1;
  }
  // The last block is the question, its answer left open.
  return answered > 0 ? { shape: "few_shot", questionStart: blockStart, examples: answered } : otherShape(text, textEnd);
}

function otherShape(text: string, textEnd: number): QuestionShape {
  if (hasOptions(text)) return { shape: "multiple_choice", questionStart: 0, examples: 0 };
  if (isWordProblem(text, textEnd)) return { shape: "word_problem", questionStart: 0, examples: 0 };
  return PLAIN;
}

/** The span of `text[from, to)` without its leading and trailing white space. */
function trimmed(text: string, from: number, to: number): [number, number] {
  let first = from;
  let last = to;
  while (first < last && text.charCodeAt(first) <= 32) first += 1;
  while (last > first && text.charCodeAt(last - 1) <= 32) last -= 1;
  return [first, last];
}

/** Option lines for both "A" and "B": "A." / "A)" / "(A)" at a line's start. */
const OPTION_A = /^[ \t]*(?:\(A\)|A[.)])(?:\s|$)/m;
const OPTION_B = /^[ \t]*(?:\(B\)|B[.)])(?:\s|$)/m;
// "B." or "B)" somewhere first: a native substring search that rules out most texts before the line-start expressions run.
const hasOptions = (text: string): boolean => (text.includes("B.") || text.includes("B)")) && OPTION_A.test(text) && OPTION_B.test(text);

/** Two numbers or more: a digit, something else, a digit. */
const TWO_NUMBERS = /\d\D+\d/;
const NOTATION = /[$\\{}]/;
const isWordProblem = (text: string, textEnd: number): boolean =>
  textEnd > 0 && text.charCodeAt(textEnd - 1) === 63 /* ? */ && TWO_NUMBERS.test(text) && !NOTATION.test(text);
