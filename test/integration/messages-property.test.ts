/**
 * Property (issue 36, item 3): bodies drawn from the Messages schema itself (known block,
 * source and tool types with wrong field types, missing fields, NULs, lone surrogates, deep
 * nesting) are never a 5xx, and a refusal is a 4xx in Anthropic's error body that names
 * the field.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithFakeProvider } from "../support/router.ts";
import { maybe, rarely, textOf, wrongOf } from "../support/schema-draws.ts";

let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
beforeAll(async () => (app = await startWithFakeProvider()), 60_000);
afterAll(() => app?.close());

const text = textOf("toolu_1", "f", "naïve");
const wrong = wrongOf(text);

const mark = fc.oneof(fc.record({ type: fc.constantFrom("ephemeral", "bogus"), ttl: maybe(fc.oneof(fc.constantFrom("5m", "1h", "1d"), wrong)) }), wrong);
const source = fc.oneof(
  fc.record(
    { type: fc.constantFrom("base64", "url", "file", "text", "bogus"), media_type: maybe(wrong), data: maybe(wrong), url: maybe(wrong) },
    { requiredKeys: [] },
  ),
  fc.record({
    type: fc.constant("base64"),
    media_type: fc.constantFrom("image/png", "application/pdf"),
    data: fc.constantFrom("iVBORw0KGgo=", "JVBERi0xLjQK", ""),
  }),
  wrong,
);
const block = fc.record(
  {
    type: fc.oneof(fc.constantFrom("text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "bogus"), wrong),
    text: maybe(wrong),
    source: maybe(source),
    title: maybe(wrong),
    id: maybe(wrong),
    name: maybe(wrong),
    input: maybe(wrong),
    tool_use_id: maybe(wrong),
    content: maybe(
      fc.oneof(text, fc.array(fc.oneof(fc.record({ type: fc.constantFrom("text", "image", "tool_use"), text: maybe(wrong) }), wrong), { maxLength: 2 }), wrong),
    ),
    is_error: maybe(wrong),
    thinking: maybe(wrong),
    data: maybe(wrong),
    cache_control: maybe(mark),
  },
  { requiredKeys: [] },
);
const message = fc.record(
  {
    role: fc.oneof({ weight: 5, arbitrary: fc.constantFrom("user", "assistant") }, { weight: 1, arbitrary: wrong }),
    content: fc.oneof(
      { weight: 3, arbitrary: text },
      { weight: 3, arbitrary: fc.array(block, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: wrong },
    ),
  },
  { requiredKeys: [] },
);
/** Messages a client really sends, so that some bodies reach the provider. */
const goodMessage = fc.oneof(
  fc.record({ role: fc.constant("user"), content: text }),
  fc.record({ role: fc.constant("user"), content: fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 2 }) }),
);
const tool = fc.record(
  {
    type: maybe(fc.oneof(fc.constantFrom("custom", "bash_20250124", "bogus"), wrong)),
    name: fc.oneof(fc.constantFrom("get_weather", "f"), wrong),
    input_schema: maybe(wrong),
    cache_control: maybe(mark),
  },
  { requiredKeys: ["name"] },
);
const body = fc.record(
  {
    model: fc.oneof({ weight: 6, arbitrary: fc.constant("auto") }, { weight: 1, arbitrary: wrong }),
    max_tokens: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) }, { weight: 1, arbitrary: wrong }),
    messages: fc.oneof(
      { weight: 3, arbitrary: fc.array(goodMessage, { minLength: 1, maxLength: 2 }) },
      { weight: 3, arbitrary: fc.array(fc.oneof(goodMessage, message), { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: wrong },
    ),
    system: rarely(fc.oneof(text, fc.array(block, { maxLength: 2 }), wrong)),
    tools: rarely(fc.oneof(fc.array(tool, { maxLength: 2 }), wrong)),
    tool_choice: rarely(fc.oneof(fc.record({ type: fc.constantFrom("auto", "any", "tool", "none", "bogus"), name: maybe(wrong) }), wrong)),
    stop_sequences: rarely(fc.oneof(fc.array(text, { maxLength: 6 }), wrong)),
    temperature: rarely(wrong),
    top_k: rarely(wrong),
    metadata: rarely(fc.oneof(fc.record({ user_id: maybe(wrong) }), wrong)),
    thinking: rarely(fc.oneof(fc.record({ type: fc.constantFrom("enabled", "disabled"), budget_tokens: maybe(wrong) }), wrong)),
    stream: rarely(fc.oneof(fc.boolean(), wrong)),
  },
  { requiredKeys: ["messages"] },
);

type ErrorBody = { type?: unknown; error?: { type?: unknown; message?: unknown } };
/** Refusals of the body as a whole (not JSON, too deep, not valid Unicode in no one field): nothing narrower to name. */
const WHOLE_BODY = /JSON|nested deeper|not valid Unicode/i;

describe("Messages bodies drawn from the schema", () => {
  it("never a 5xx; a 4xx is Anthropic's error body, naming the field", { timeout: 600_000 }, async () => {
    let served = 0;
    await fc.assert(
      fc.asyncProperty(body, async (drawn) => {
        const response = await app.router.post("/v1/messages", drawn, { "anthropic-version": "2023-06-01" });
        const answer = await response.text();
        const where = `${response.status} for ${JSON.stringify(drawn).slice(0, 400)}: ${answer.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        if (response.status === 200) {
          served++;
          return;
        }
        const refusal = JSON.parse(answer) as ErrorBody;
        expect(refusal.type, where).toBe("error");
        expect(typeof refusal.error?.type, where).toBe("string");
        const words = String(refusal.error?.message);
        if (response.status === 400 && !WHOLE_BODY.test(words)) expect(words, where).toMatch(/'[^']+'/);
      }),
      { numRuns: 2_000, seed: 36, endOnFailure: true },
    );
    expect(served).toBeGreaterThan(100);
  });
});
