/** The body reader: its nesting rule, which crosses strings by searching for their closing quote (escapes never fool it), and the long strings it keeps. */
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { readJsonBody } from "../../src/http/json-body.ts";
import { rawStringsFor } from "../../src/http/raw-strings.ts";

const read = (text: string) =>
  readJsonBody(new Request("http://x/", { method: "POST", headers: { "content-type": "application/json" }, body: text }), 1_000_000, z.looseObject({}));
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("a body's nesting", () => {
  it("takes 64 levels and refuses 65, counted outside strings only", async () => {
    await expect(read(`{"a":${nested(63)}}`)).resolves.toBeDefined();
    await expect(read(`{"a":${nested(64)}}`)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/nested deeper than 64/) });
    // Brackets inside strings are text: 200 of them nest nothing.
    await expect(read(JSON.stringify({ a: "[".repeat(200), b: "{".repeat(200) }))).resolves.toBeDefined();
  });

  it("is not fooled by escaped quotes and backslashes before a string's end", async () => {
    // An escaped quote does not end the string, so the brackets after it are still text…
    await expect(read(JSON.stringify({ a: `\\"${"[".repeat(100)}`, b: `\\\\${"x"}` }))).resolves.toBeDefined();
    await expect(read(JSON.stringify({ a: `"${"[".repeat(100)}"` }))).resolves.toBeDefined();
    // …and a string ending in an escaped backslash does end, so deep nesting after it is seen.
    await expect(read(`{"a":"x\\\\","b":${nested(70)}}`)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/nested deeper/) });
    await expect(read(`{"a":"\\\\\\"","b":${nested(70)}}`)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/nested deeper/) });
  });

  it("refuses a string that never closes as JSON, not as nesting", async () => {
    await expect(read(`{"a":"${"[".repeat(100)}`)).rejects.toMatchObject({ status: 400, message: "Request body is not valid JSON" });
  });
});

describe("a body's long strings", () => {
  const post = (text: string) => new Request("http://x/", { method: "POST", headers: { "content-type": "application/json" }, body: text });
  const long = `{"a":"${"x".repeat(2_000)}"}`;

  it("are kept as the client's bytes for a body that goes to a provider, and for no other", async () => {
    const forProvider = post(long);
    await readJsonBody(forProvider, 1_000_000, z.looseObject({}), { forProvider: true });
    expect(rawStringsFor(forProvider)?.tokenOf("x".repeat(2_000))?.chars).toBe(2_002);
    // An embeddings or admin body keeps nothing of its bytes once read.
    const other = post(long);
    await readJsonBody(other, 1_000_000, z.looseObject({}));
    expect(rawStringsFor(other)).toBeUndefined();
  });
});
