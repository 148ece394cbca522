/**
 * What the schema-drawn property tests (issue 36) share: text as clients get it wrong,
 * a value of the wrong type for any field, fields often or mostly absent, and the check
 * that a refusal in OpenAI's error body names the field it refuses.
 */
import fc from "fast-check";
import { expect } from "vitest";

/** Short strings, then NUL and lone surrogates, then `samples` the surface's schema expects (an id, a name). */
export const textOf = (...samples: string[]): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("", "a\u0000b", "\u0000", "\ud800", "x\udc00y", ...samples));

/** An array 70 deep: past the 64 levels the body reader takes. */
const DEEP = Array.from({ length: 70 }).reduce<unknown>((inner) => [inner], "bottom");

/** A value of any type, for a field that wants another: `text` for the strings among them. */
export const wrongOf = (text: fc.Arbitrary<string>): fc.Arbitrary<unknown> =>
  fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }), fc.constant(DEEP));

/** A field present or absent, as often as not. */
export const maybe = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(value, { nil: undefined });

/** A top-level field that is mostly absent: one wrong field refuses the whole body, and some bodies must reach the provider. */
export const rarely = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });

/** Refusals of the body as a whole (not JSON, too deep, not an object, not valid Unicode in no one field): no field to name. */
const WHOLE_BODY = /^(Request body|'\(body\)')/;

type OpenAiErrorBody = { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } };

/** A refusal is OpenAI's error body, `{error: {message, type, param, code}}`; a 400 about a field names it in `param`. */
export function expectOpenAiRefusal(status: number, answer: string, where: string): void {
  const error = (JSON.parse(answer) as OpenAiErrorBody).error;
  expect(Object.keys(error ?? {}), where).toEqual(expect.arrayContaining(["message", "type", "param", "code"]));
  expect(typeof error?.message, where).toBe("string");
  expect(typeof error?.type, where).toBe("string");
  if (status === 400 && !WHOLE_BODY.test(String(error?.message))) {
    expect(typeof error?.param === "string" && error.param !== "", where).toBe(true);
  }
}
