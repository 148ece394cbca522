/** One linear pass over prompt text, counting the signals the scorer weighs. */
import { hashStep, joinHash, SIGNALS, STARTS_PHRASE, signalFlags, WORD_START } from "./lexicon.ts";

/** Running counts over every text the request holds; one instance per request. */
export type TextCounts = {
  chars: number;
  nonAscii: number;
  words: number;
  /** Hits per signal, indexed like `SIGNALS`. */
  signals: Int32Array;
  codeFences: number;
  codeSymbols: number;
  mathSymbols: number;
  listItems: number;
  questions: number;
  /** Characters inside words, for the mean word length. */
  wordChars: number;
  /** Runs of digits: the quantities a prompt works with. */
  numbers: number;
  /** Sentence ends: ".", "!" or "?" before a space or the end. */
  sentences: number;
};

export function emptyCounts(): TextCounts {
  return {
    chars: 0,
    nonAscii: 0,
    words: 0,
    signals: new Int32Array(SIGNALS.length),
    codeFences: 0,
    codeSymbols: 0,
    mathSymbols: 0,
    listItems: 0,
    questions: 0,
    wordChars: 0,
    numbers: 0,
    sentences: 0,
  };
}

const SIGNAL_COUNT = SIGNALS.length;

/** ASCII characters that belong to words: letters, digits, ' and _. */
const WORD_CHAR = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  const c = String.fromCharCode(code);
  WORD_CHAR[code] = /[A-Za-z0-9'_]/.test(c) ? 1 : 0;
}

/**
 * Adds one text's signals to `counts`. Linear in the text's length, with a constant
 * amount of work per character and no allocation per word. Counters live in locals
 * and are written back once: V8 keeps them in registers.
 */
export function scanText(text: string, counts: TextCounts): void {
  const length = text.length;
  const signals = counts.signals;
  let wordChars = 0;
  let numbers = 0;
  let sentences = 0;
  let word = WORD_START;
  let inWord = false;
  let previous = 0; // hash of the previous word on this line
  let previousStarts = false; // it begins a phrase (false at a line's start)
  let pair = 0; // hash of the previous two words
  let pairStarts = false; // they begin a three-word phrase
  let atLineStart = true;
  let backticks = 0;
  let nonAscii = 0;
  let words = 0;
  let digits = 0;
  let codeFences = 0;
  let codeSymbols = 0;
  let mathSymbols = 0;
  let listItems = 0;
  let questions = 0;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? text.charCodeAt(i) : 32;
    if (code >= 97 && code <= 122) {
      // Most characters are lower-case letters: the shortest path.
      wordChars += 1;
      word = hashStep(word, code);
      inWord = true;
      atLineStart = false;
      continue;
    }
    if (code > 127 || WORD_CHAR[code] === 1) {
      wordChars += 1;
      if (code >= 48 && code <= 57) {
        digits += 1;
        if (!inWord) numbers += 1;
        if (!inWord && atLineStart) {
          const next = text.charCodeAt(i + 1);
          if (next === 46 || next === 41) listItems += 1; // "1." or "1)"
        }
      } else if (code > 127) nonAscii += 1;
      word = hashStep(word, code >= 65 && code <= 90 ? code | 0x20 : code);
      inWord = true;
      atLineStart = false;
      continue;
    }
    if (inWord) {
      words += 1;
      const flags = signalFlags(word);
      addSignals(signals, flags);
      // A phrase is looked up only after the word, or the two, it begins with.
      if (pairStarts) addSignals(signals, signalFlags(joinHash(pair, word)));
      if (previousStarts) {
        pair = joinHash(previous, word);
        const pairFlags = signalFlags(pair);
        addSignals(signals, pairFlags);
        pairStarts = (pairFlags & STARTS_PHRASE) !== 0;
      } else pairStarts = false;
      previous = word;
      previousStarts = (flags & STARTS_PHRASE) !== 0;
      word = WORD_START;
      inWord = false;
    }
    if (code === 96) {
      backticks += 1;
      if (backticks === 3) codeFences += 1;
      continue;
    }
    backticks = 0;
    // ".", "!" or "?" before white space or the end closes a sentence
    if ((code === 46 || code === 33 || code === 63) && (i + 1 >= length || text.charCodeAt(i + 1) <= 32)) sentences += 1;
    switch (code) {
      case 10: // newline
        atLineStart = true;
        previousStarts = false;
        pairStarts = false;
        break;
      case 45: // "-" or "*" opening a line is a bullet
      case 42:
        if (atLineStart && text.charCodeAt(i + 1) === 32) listItems += 1;
        atLineStart = false;
        mathSymbols += 1;
        break;
      case 123: // { } ; are code
      case 125:
      case 59:
        codeSymbols += 1;
        atLineStart = false;
        break;
      case 61: // = ^ \ $ + are math (and sometimes code)
      case 94:
      case 92:
      case 36:
      case 43:
        mathSymbols += 2;
        atLineStart = false;
        break;
      case 63:
        questions += 1;
        atLineStart = false;
        break;
      case 32:
      case 9:
      case 13:
        break;
      default:
        atLineStart = false;
        if (code > 127) nonAscii += 1;
    }
  }
  counts.chars += length;
  counts.nonAscii += nonAscii;
  counts.words += words;
  counts.codeFences += codeFences;
  counts.codeSymbols += codeSymbols;
  counts.mathSymbols += (mathSymbols + 0.4 * digits) / 2;
  counts.listItems += listItems;
  counts.questions += questions;
  counts.wordChars += wordChars;
  counts.numbers += numbers;
  counts.sentences += sentences;
}

function addSignals(signals: Int32Array, flags: number): void {
  if (flags === 0) return;
  for (let bit = 0; bit < SIGNAL_COUNT; bit++) {
    if (flags & (1 << bit)) signals[bit]! += 1;
  }
}

/** Any UTF-16 code unit outside ASCII. */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Adds one text's length and its characters outside ASCII to `counts`: all that a text
 * which is only context (a system prompt, the history, a tool's output) adds to the token
 * estimate. The same `chars` and `nonAscii` as `scanText`, at a fraction of its cost: an
 * agent's 100k-token history is counted, not read for signals. ASCII text, the usual case,
 * takes one native search.
 */
export function countText(text: string, counts: TextCounts): void {
  counts.chars += text.length;
  if (!NON_ASCII.test(text)) return;
  let nonAscii = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) nonAscii += 1;
  counts.nonAscii += nonAscii;
}
