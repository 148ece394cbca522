/** One linear pass over prompt text, counting the signals the scorer weighs. */
import { LEXICON, SIGNALS, WORD_START, hashStep, joinHash } from "./lexicon.ts";

/** Running counts over every text the request holds; one instance per request. */
export type TextCounts = {
  chars: number;
  nonAscii: number;
  words: number;
  /** Hits per signal, indexed like `SIGNALS`. */
  signals: number[];
  codeFences: number;
  codeSymbols: number;
  mathSymbols: number;
  listItems: number;
  questions: number;
};

export function emptyCounts(): TextCounts {
  return {
    chars: 0,
    nonAscii: 0,
    words: 0,
    signals: SIGNALS.map(() => 0),
    codeFences: 0,
    codeSymbols: 0,
    mathSymbols: 0,
    listItems: 0,
    questions: 0,
  };
}

const SIGNAL_COUNT = SIGNALS.length;

function isWordChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || // a-z
    (code >= 65 && code <= 90) || // A-Z
    (code >= 48 && code <= 57) || // 0-9
    code === 39 || // '
    code === 95 || // _
    code > 127
  );
}

function countHits(counts: TextCounts, hash: number): void {
  const flags = LEXICON.get(hash);
  if (flags === undefined) return;
  for (let bit = 0; bit < SIGNAL_COUNT; bit++) {
    if (flags & (1 << bit)) counts.signals[bit]! += 1;
  }
}

/**
 * Adds one text's signals to `counts`. Linear in the text's length, with a constant
 * amount of work per character and no allocation per word.
 */
export function scanText(text: string, counts: TextCounts): void {
  const length = text.length;
  let word = WORD_START;
  let inWord = false;
  let previous = 0; // hash of the previous word
  let pair = 0; // hash of the previous two words
  let atLineStart = true;
  let backticks = 0;
  counts.chars += length;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? text.charCodeAt(i) : 32;
    if (isWordChar(code)) {
      if (!inWord && atLineStart && code >= 48 && code <= 57) {
        const next = text.charCodeAt(i + 1);
        if (next === 46 || next === 41) counts.listItems += 1; // "1." or "1)"
      }
      word = hashStep(word, code >= 65 && code <= 90 ? code | 0x20 : code);
      inWord = true;
      atLineStart = false;
      if (code > 127) counts.nonAscii += 1;
      if (code >= 48 && code <= 57) counts.mathSymbols += 0.2;
      continue;
    }
    if (inWord) {
      counts.words += 1;
      countHits(counts, word);
      if (previous !== 0) {
        countHits(counts, joinHash(previous, word));
        if (pair !== 0) countHits(counts, joinHash(pair, word));
        pair = joinHash(previous, word);
      }
      previous = word;
      word = WORD_START;
      inWord = false;
    }
    if (code === 96) {
      backticks += 1;
      if (backticks === 3) counts.codeFences += 1;
      continue;
    }
    backticks = 0;
    switch (code) {
      case 10: // newline
        atLineStart = true;
        previous = 0;
        pair = 0;
        break;
      case 45: // "-" or "*" opening a line is a bullet
      case 42:
        if (atLineStart && text.charCodeAt(i + 1) === 32) counts.listItems += 1;
        atLineStart = false;
        counts.mathSymbols += 0.5;
        break;
      case 123: // { } ; are code
      case 125:
      case 59:
        counts.codeSymbols += 1;
        atLineStart = false;
        break;
      case 61: // = ^ \ $ are math (and sometimes code)
      case 94:
      case 92:
      case 36:
      case 43:
        counts.mathSymbols += 1;
        atLineStart = false;
        break;
      case 63:
        counts.questions += 1;
        atLineStart = false;
        break;
      case 32:
      case 9:
      case 13:
        break;
      default:
        atLineStart = false;
        if (code > 127) counts.nonAscii += 1;
    }
  }
}
