/**
 * An agent's request is mostly a few long strings (files, tool output, the system prompt),
 * which the router reads but never changes. Sent on, each would be escaped again by
 * `JSON.stringify` and encoded again to UTF-8: for a 100k-token turn, more CPU than parsing
 * it, and two copies of the body as garbage. Instead the long strings keep the bytes the
 * client sent them as (already valid JSON, already UTF-8, checked by the parse), and the
 * provider's body is the router's JSON of everything else with those bytes spliced in.
 *
 * - `scanJson` walks the body's text once (it also gives the nesting depth json-body.ts
 *   limits), numbering every string, keys included, and noting where the long ones lie.
 * - `rawStringsOf` pairs the noted spans with the parsed value's strings by that numbering,
 *   which holds because JSON.parse keeps the text's order; where it might not (a key that
 *   is an array index, which objects list first, or a repeated key) it keeps nothing, and
 *   the body is serialised as before.
 * - `jsonBody` serialises with the spans. A string is found by its value, so one the router
 *   changed or made is serialised as usual.
 *
 * The spans hold the request's bytes: the provider call releases them once its body is made,
 * so nothing of the body stays alive while the provider works and the answer streams (a
 * fallback's body is serialised in full).
 */

/** Strings at least this long are sent as their bytes; shorter ones cost little to serialise. */
export const RAW_LEAST_CHARS = 512;
const QUOTE = 34;
const BACKSLASH = 92;

export type BodyScan = {
  /** The deepest bracket nesting outside strings. */
  depth: number;
  /** Strings in the text, keys included. */
  strings: number;
  /** The long strings: their number among all strings, and their start and end in the text (quotes included). */
  spans: [number, number, number][];
};

/**
 * One pass over JSON text. Strings are crossed with the runtime's own search for the closing
 * quote: an agent's body is nearly all string. Text that is not JSON gives some answer; its
 * parse refuses it.
 */
export function scanJson(text: string): BodyScan {
  const scan: BodyScan = { depth: 0, strings: 0, spans: [] };
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const close = closingQuote(text, i);
      if (close === -1) break; // never closed: not JSON
      if (close - i + 1 >= RAW_LEAST_CHARS + 2) scan.spans.push([scan.strings, i, close + 1]);
      scan.strings += 1;
      i = close;
    } else if (code === 123 || code === 91) {
      depth += 1;
      if (depth > scan.depth) scan.depth = depth;
    } else if (code === 125 || code === 93) depth -= 1;
  }
  return scan;
}

/** Where the string opened at `open` ends: the next quote after an even run of backslashes; -1 if none. */
function closingQuote(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at !== -1; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

/** Characters past ASCII: each takes more bytes in UTF-8 than code units in the text. */
const WIDE = /[^\x00-\x7f]+/g;

/**
 * `offsets` (ascending positions in `text`) as positions in `bytes`, its UTF-8 with or
 * without a byte-order mark the decoder dropped: the same where the text is ASCII, else
 * moved by the extra bytes of each wider character before them (one for a code unit
 * under U+0800 and for each half of a surrogate pair, two for the rest of the BMP).
 */
function byteOffsets(text: string, bytes: Uint8Array, offsets: number[]): number[] {
  const bom = bytes.byteLength >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (bytes.byteLength - bom === text.length) return bom === 0 ? offsets : offsets.map((at) => at + bom);
  const moved: number[] = [];
  let extra = bom;
  for (const run of text.matchAll(WIDE)) {
    while (moved.length < offsets.length && offsets[moved.length]! <= run.index) moved.push(offsets[moved.length]! + extra);
    for (let at = run.index; at < run.index + run[0].length; at++) {
      const code = text.charCodeAt(at);
      extra += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
    }
  }
  while (moved.length < offsets.length) moved.push(offsets[moved.length]! + extra);
  return moved;
}

/** A long string as the client sent it: its JSON token's bytes and its length in the text, quotes included. */
type RawString = { bytes: Uint8Array; chars: number };

/** The long strings of one request, each as the bytes the client sent it as, until released. */
export class RawStrings {
  #byValue: Map<string, RawString> | undefined;

  constructor(byValue: Map<string, RawString>) {
    this.#byValue = byValue;
  }

  /** `value` as the client sent it, if it is one of the request's long strings. */
  tokenOf(value: string): RawString | undefined {
    return value.length < RAW_LEAST_CHARS ? undefined : this.#byValue?.get(value);
  }

  /** Lets the request's bytes go: from now on every string is serialised as usual. */
  release(): void {
    this.#byValue = undefined;
  }
}

/** Whether a key may be an array index, which objects list first, out of the text's order. */
const mayBeIndex = (key: string): boolean => {
  const first = key.charCodeAt(0);
  return first >= 48 && first <= 57;
};

/**
 * The parsed `value`'s long strings paired with their bytes in `bytes` (which `text` was
 * decoded from), or undefined when none are or the pairing is unsure.
 */
export function rawStringsOf(value: unknown, scan: BodyScan, text: string, bytes: Uint8Array): RawStrings | undefined {
  if (scan.spans.length === 0) return undefined;
  const paired: [string, number][] = [];
  let number = 0;
  let next = 0;
  const visit = (item: unknown): boolean => {
    if (typeof item === "string") {
      if (scan.spans[next]?.[0] === number) {
        if (item.length >= RAW_LEAST_CHARS) paired.push([item, next]);
        next += 1;
      }
      number += 1;
      return true;
    }
    if (typeof item !== "object" || item === null) return true;
    if (Array.isArray(item)) return item.every(visit);
    for (const key in item) {
      if (mayBeIndex(key)) return false;
      // A long key is a span too, and is skipped: only values are sent as bytes.
      if (scan.spans[next]?.[0] === number) next += 1;
      number += 1;
      if (!visit((item as Record<string, unknown>)[key])) return false;
    }
    return true;
  };
  // A repeated key leaves the value with fewer strings than the text: the numbering would slip.
  if (!visit(value) || number !== scan.strings || paired.length === 0) return undefined;
  const bounds = byteOffsets(
    text,
    bytes,
    scan.spans.flatMap(([, start, end]) => [start, end]),
  );
  const byValue = new Map<string, RawString>();
  for (const [item, span] of paired) {
    const start = bounds[2 * span]!;
    const end = bounds[2 * span + 1]!;
    if (bytes[start] !== QUOTE || bytes[end - 1] !== QUOTE) return undefined;
    const [, from, to] = scan.spans[span]!;
    byValue.set(item, { bytes: bytes.subarray(start, end), chars: to - from });
  }
  return new RawStrings(byValue);
}

const encoder = new TextEncoder();

/** A body with the client's bytes spliced in; `chars`: its length as text, as a string body's `length` is. */
export type SplicedJson = { bytes: Uint8Array<ArrayBuffer>; chars: number };

/**
 * `value` as JSON: a string when `raw` holds none of its strings, else UTF-8 bytes with each
 * long string `raw` holds copied from the client's bytes. Each is first written as a marker
 * (a random id no client can have sent, and its number), then replaced.
 */
export function jsonBody(value: unknown, raw: RawStrings | undefined): string | SplicedJson {
  if (raw === undefined) return JSON.stringify(value);
  const spliced: RawString[] = [];
  const id = crypto.randomUUID();
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== "string") return item;
    const token = raw.tokenOf(item);
    if (token === undefined) return item;
    spliced.push(token);
    return `${id}#${spliced.length - 1}`;
  });
  if (spliced.length === 0) return text;
  const marker = `"${id}#`;
  const parts: Uint8Array[] = [];
  let chars = text.length;
  let from = 0;
  for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, from)) {
    const close = text.indexOf('"', at + marker.length);
    const token = spliced[Number(text.slice(at + marker.length, close))]!;
    parts.push(encoder.encode(text.slice(from, at)), token.bytes);
    chars += token.chars - (close + 1 - at);
    from = close + 1;
  }
  parts.push(encoder.encode(text.slice(from)));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return { bytes, chars };
}

const noted = new WeakMap<Request, RawStrings>();

/** Keeps a request's long strings for its provider call (json-body.ts notes them as it reads the body). */
export function noteRawStrings(request: Request, raw: RawStrings): void {
  noted.set(request, raw);
}

/** The long strings read from `request`'s body, if any (released by the first provider call that uses them). */
export const rawStringsFor = (request: Request): RawStrings | undefined => noted.get(request);
