import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheKey } from "../../src/cache/key.ts";
import { assembleStream, replayAsStream } from "../../src/cache/stream-assembly.ts";
import { CanonicalRequestSchema } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { canonicalJson } from "../../src/crypto/canonical-json.ts";
import { decide } from "../../src/routing/decide.ts";

const config = parseConfig({});
const keyOf = (body: Record<string, unknown>, tenant: string | null = null): Promise<string> => {
  const request = CanonicalRequestSchema.parse(body);
  return cacheKey(request, decide(request, config), { tenant, key: null, user: request.user ?? null });
};
const user = (content: string, extra: Record<string, unknown> = {}) => ({ model: "auto", messages: [{ role: "user", content }], ...extra });

describe("canonicalJson", () => {
  it("sorts keys at every depth and keeps a __proto__ key as data", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    const hostile = JSON.parse('{"__proto__":{"x":1},"a":1}');
    expect(canonicalJson(hostile)).toBe('{"__proto__":{"x":1},"a":1}');
  });

  it("writes what JSON.stringify writes for a copy with sorted keys, so stored HMACs and cache keys stay valid", () => {
    // The definition it replaced, kept as the reference: a sorted copy, then JSON.stringify.
    const sortedCopy = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(sortedCopy);
      if (value === null || typeof value !== "object") return value;
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(value).sort()) {
        const child = (value as Record<string, unknown>)[key];
        if (child !== undefined) Object.defineProperty(sorted, key, { value: sortedCopy(child), enumerable: true });
      }
      return sorted;
    };
    // Keys that look like array indices (and some that nearly do) are where object key order is subtle.
    const key = fc.oneof(fc.string(), fc.nat({ max: 5e9 }).map(String), fc.constantFrom("01", "-1", "1.5", "4294967294", "4294967295"));
    const values = fc.oneof(fc.jsonValue(), fc.object({ key, values: [fc.constant(undefined), fc.double(), fc.string(), fc.constant(null)] }));
    fc.assert(
      fc.property(values, (value) => canonicalJson(value) === JSON.stringify(sortedCopy(value))),
      { numRuns: 2_000 },
    );
    expect(canonicalJson([undefined, Number.NaN, -0, "é\u2028"])).toBe(JSON.stringify([null, null, 0, "é\u2028"]));
  });
});

describe("cacheKey", () => {
  it("ignores the ends of a whole message, key order and streaming", async () => {
    const base = await keyOf(user("Name three primes."));
    expect(await keyOf(user("  Name three primes.\n"))).toBe(base);
    expect(await keyOf({ messages: [{ content: "Name three primes.", role: "user" }], model: "auto" })).toBe(base);
    expect(await keyOf(user("Name three primes.", { stream: true, stream_options: { include_usage: true } }))).toBe(base);
  });

  it("keeps whitespace inside a message: indentation and table layout change the meaning", async () => {
    const nested = "def f(x):\n    if x:\n        return 1\n    return 2";
    const flat = "def f(x):\n    if x:\n        return 1\n        return 2";
    expect(await keyOf(user(nested))).not.toBe(await keyOf(user(flat)));
    const oneLine = "| a | b |\n|---|---|\n| 1 | 2 |";
    expect(await keyOf(user(oneLine))).not.toBe(await keyOf(user(oneLine.replaceAll("\n", " "))));
    expect(await keyOf(user("a  b"))).not.toBe(await keyOf(user("a b")));
    const parts = (text: string) => ({ model: "auto", messages: [{ role: "user", content: [{ type: "text", text }] }] });
    expect(await keyOf(parts("x "))).not.toBe(await keyOf(parts("x")));
  });

  it("separates entries by tenant and by the request's user", async () => {
    const base = await keyOf(user("Name three primes."));
    const alice = await keyOf(user("Name three primes.", { user: "alice" }));
    const bob = await keyOf(user("Name three primes.", { user: "bob" }));
    const otherTenant = await keyOf(user("Name three primes."), "tenant-b");
    expect(new Set([base, alice, bob, otherTenant]).size).toBe(4);
  });

  it("changes with the text, every parameter that changes the answer, and the target", async () => {
    const base = await keyOf(user("Name three primes."));
    const variants = [
      user("Name four primes."),
      user("Name three primes.", { temperature: 0.5 }),
      user("Name three primes.", { max_tokens: 10 }),
      user("Name three primes.", { seed: 1 }),
      user("Name three primes.", { response_format: { type: "json_object" } }),
      user("Name three primes.", { model: "tier:4" }),
      user("Name three primes.", { model: "groq/llama-3.1-8b-instant" }),
      {
        model: "auto",
        messages: [
          { role: "system", content: "Be terse." },
          { role: "user", content: "Name three primes." },
        ],
      },
    ];
    const keys = await Promise.all(variants.map((variant) => keyOf(variant)));
    expect(new Set([base, ...keys]).size).toBe(variants.length + 1);
  });
});

describe("stream assembly and replay", () => {
  const chunk = (delta: object, finish: string | null = null) =>
    JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 7, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] });

  it("assembles content, tool calls and usage into one chat.completion", () => {
    const assembler = assembleStream();
    assembler.add(chunk({ role: "assistant", content: "Hel" }));
    assembler.add(chunk({ content: "lo" }));
    assembler.add(chunk({ tool_calls: [{ index: 0, id: "t1", type: "function", function: { name: "get", arguments: '{"a":' } }] }));
    assembler.add(chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }));
    assembler.add(chunk({}, "tool_calls"));
    assembler.add(JSON.stringify({ id: "c1", choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }));
    const completion = JSON.parse(assembler.result()!);
    expect(completion).toMatchObject({ id: "c1", object: "chat.completion", created: 7, model: "m", usage: { completion_tokens: 4 } });
    expect(completion.choices[0]).toMatchObject({
      message: { role: "assistant", content: "Hello", tool_calls: [{ id: "t1", type: "function", function: { name: "get", arguments: '{"a":1}' } }] },
      finish_reason: "tool_calls",
    });
  });

  it("gives nothing for a stream with a broken chunk, no choices, or a choice that never finished", () => {
    const broken = assembleStream();
    broken.add(chunk({ content: "x" }));
    broken.add("{not json");
    expect(broken.result()).toBeUndefined();
    expect(assembleStream().result()).toBeUndefined();
    const unfinished = assembleStream();
    unfinished.add(chunk({ role: "assistant", content: "half an ans" }));
    expect(unfinished.result()).toBeUndefined();
  });

  it("replays a completion as chunks that assemble back into it", () => {
    const body = JSON.stringify({
      id: "c9",
      object: "chat.completion",
      created: 1,
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi there" }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    const replay = replayAsStream(body, true);
    expect(replay.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const again = assembleStream();
    for (const line of replay.split("\n")) {
      if (line.startsWith("data: ") && line !== "data: [DONE]") again.add(line.slice(6));
    }
    expect(JSON.parse(again.result()!)).toEqual(JSON.parse(body));
    expect(replayAsStream(body, false)).not.toContain('"usage"');
  });
});
