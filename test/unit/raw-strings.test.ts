import { describe, expect, it } from "vitest";
import { jsonBody, RAW_LEAST_CHARS, type RawStrings, rawStringsOf, type SplicedJson, scanJson } from "../../src/http/raw-strings.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request read as json-body.ts reads it: its bytes, their scan, the parsed value, and the long strings paired. */
function read(text: string, bytes = encoder.encode(text)): { value: unknown; raw: RawStrings | undefined } {
  const value: unknown = JSON.parse(text);
  return { value, raw: rawStringsOf(value, scanJson(text), text, bytes) };
}

const asText = (body: string | SplicedJson): string => (typeof body === "string" ? body : decoder.decode(body.bytes));

/** A long string as a client may escape it: newlines, tabs, quotes, a backslash, `\u00e9` where JSON.stringify writes é, and an emoji. */
const escaped = `${'x\\n\\t\\"q\\\\ \\u00e9 😀 '.repeat(Math.ceil(RAW_LEAST_CHARS / 10))}end`;

describe("scanJson", () => {
  it("numbers every string, keys included, and notes the long ones where their bytes lie", () => {
    const text = `{"a":"short","long":"${"y".repeat(RAW_LEAST_CHARS)}","n":[1,{"k":"v"}]}`;
    const scan = scanJson(text);
    expect(scan.depth).toBe(3);
    expect(scan.strings).toBe(7);
    expect(scan.spans).toHaveLength(1);
    const [number, start, end] = scan.spans[0]!;
    expect(number).toBe(3);
    expect(text.slice(start, end)).toBe(`"${"y".repeat(RAW_LEAST_CHARS)}"`);
  });

  it("does not count brackets inside strings, or end a string at an escaped quote", () => {
    const scan = scanJson(String.raw`{"a":"[[[{{\"]]\\","b":[[1]]}`);
    expect(scan.depth).toBe(3);
    expect(scan.strings).toBe(3);
  });
});

describe("jsonBody", () => {
  it("sends a long string as the bytes the client sent, and means the same as JSON.stringify", () => {
    const text = `{"model":"m","messages":[{"role":"tool","content":"${escaped}"},{"role":"user","content":"hi"}]}`;
    const { value, raw } = read(text);
    const body = jsonBody(value, raw);
    expect(typeof body).toBe("object");
    const sent = asText(body);
    // The client's own escapes, not JSON.stringify's (which writes é and 😀 as they are).
    expect(sent).toContain(`"${escaped}"`);
    expect(JSON.parse(sent)).toEqual(JSON.parse(JSON.stringify(value)));
    // Its length as text is the client's text's: what a string body's length would say.
    expect((body as SplicedJson).chars).toBe(text.length);
  });

  it("serialises as usual a string the router changed or made, and what the body no longer has", () => {
    const long = "z".repeat(RAW_LEAST_CHARS);
    const { raw } = read(`{"a":"${long}","b":"${long}!"}`);
    const changed = { a: `${long}?`, c: "new" };
    const body = jsonBody(changed, raw);
    expect(body).toBe(JSON.stringify(changed));
  });

  it("is the plain JSON once released", () => {
    const { value, raw } = read(`{"a":"${escaped}"}`);
    raw!.release();
    expect(jsonBody(value, raw)).toBe(JSON.stringify(value));
  });

  it("keeps key order, nested long strings, and a long string sent twice", () => {
    const long = "w".repeat(RAW_LEAST_CHARS + 3);
    const text = `{"z":{"deep":["${long}",{"again":"${long}"}]},"a":"${escaped}","m":null,"t":true,"n":-1.5e3}`;
    const { value, raw } = read(text);
    const sent = asText(jsonBody(value, raw));
    expect(sent).toBe(`{"z":{"deep":["${long}",{"again":"${long}"}]},"a":"${escaped}","m":null,"t":true,"n":-1500}`);
  });

  it("gives up on pairing where the parse reorders or drops strings", () => {
    const long = "q".repeat(RAW_LEAST_CHARS);
    // Objects list array-index keys first, out of the text's order.
    expect(read(`{"b":"${long}","1":"${long}x"}`).raw).toBeUndefined();
    // A repeated key: the value holds one string fewer than the text.
    expect(read(`{"a":"first","a":"${long}"}`).raw).toBeUndefined();
    // Nothing long: nothing to pair.
    expect(read(`{"a":"short"}`).raw).toBeUndefined();
  });

  it("finds the bytes past characters wider in UTF-8 than in the text, and past a byte-order mark", () => {
    // é is 2 bytes, — 3, 😀 4 (two code units): each moves the long string's bytes further from its place in the text.
    const text = `{"a":"é—😀","b":"${escaped}","c":"ü"}`;
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(text)]);
    for (const bytes of [encoder.encode(text), bom]) {
      const { value, raw } = read(text, bytes);
      const sent = jsonBody(value, raw);
      expect(typeof sent).toBe("object");
      expect(asText(sent)).toBe(`{"a":"é—😀","b":"${escaped}","c":"ü"}`);
    }
  });

  it("skips a long key and pairs the values after it", () => {
    const key = "k".repeat(RAW_LEAST_CHARS);
    const { value, raw } = read(`{"${key}":"${escaped}"}`);
    const sent = asText(jsonBody(value, raw));
    expect(sent).toBe(`{"${key}":"${escaped}"}`);
  });

  it("matches JSON.stringify on random bodies, whatever is removed or changed before sending", () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ["a", "\n", '"', "\\", "é", "😀", "\u2028", "/", "\t", "b"];
    const longText = (): string => Array.from({ length: RAW_LEAST_CHARS + random(200) }, () => pieces[random(pieces.length)]).join("");
    const make = (depth: number): unknown => {
      const kind = random(depth > 3 ? 3 : 6);
      if (kind === 0) return longText();
      if (kind === 1) return "s";
      if (kind === 2) return random(1000) / 7;
      if (kind === 3) return Array.from({ length: random(4) }, () => make(depth + 1));
      return Object.fromEntries(Array.from({ length: random(4) }, (_, i) => [`k${i}${random(9)}`, make(depth + 1)]));
    };
    for (let round = 0; round < 200; round++) {
      const original = { messages: make(0), tail: make(1) };
      // Half the bodies escaped by hand, as a client may: every non-ASCII character as \u escapes, which JSON.stringify does not write.
      const plain = JSON.stringify(original);
      const text = round % 4 < 2 ? plain : plain.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
      const { value, raw } = read(text);
      // Every body with a long string pairs it: a wrong byte offset would leave it unpaired, and this test blind.
      const hasLong = (item: unknown): boolean =>
        typeof item === "string" ? item.length >= RAW_LEAST_CHARS : typeof item === "object" && item !== null && Object.values(item).some(hasLong);
      expect(raw !== undefined).toBe(hasLong(original));
      const sent = { ...(value as Record<string, unknown>), tail: round % 2 === 0 ? "changed" : (value as { tail: unknown }).tail };
      expect(JSON.parse(asText(jsonBody(sent, raw)))).toEqual(JSON.parse(JSON.stringify(sent)));
    }
  });
});
