/**
 * Property (issue 36, item 3): bodies drawn from the Responses schema itself (known item,
 * part and tool types with wrong field types, missing fields, NULs, lone surrogates, deep
 * nesting) are never a 5xx; a refusal is a 4xx in OpenAI's error body that names the
 * field; and a 200 that says `store: true` can be fetched back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectOpenAiRefusal, maybe, rarely, textOf, wrongOf } from "../support/schema-draws.ts";
import { useFakeStack } from "../support/stack.ts";

const stack = useFakeStack();

const text = textOf("call_1", "f", "resp_missing");
const wrong = wrongOf(text);

const part = fc.record(
  {
    type: fc.oneof(fc.constantFrom("input_text", "input_image", "input_file", "output_text", "refusal", "bogus"), wrong),
    text: maybe(wrong),
    refusal: maybe(wrong),
    image_url: maybe(fc.oneof(wrong, fc.constant("data:image/png;base64,iVBORw0KGgo="))),
    file_data: maybe(wrong),
    filename: maybe(wrong),
    detail: maybe(wrong),
  },
  { requiredKeys: [] },
);
const content = fc.oneof(text, fc.array(fc.oneof(part, wrong), { maxLength: 3 }), wrong);
const item = fc.record(
  {
    type: maybe(
      fc.oneof(
        fc.constantFrom("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output", "reasoning", "item_reference"),
        wrong,
      ),
    ),
    role: maybe(fc.oneof(fc.constantFrom("user", "assistant", "system", "developer", "tool"), wrong)),
    content: maybe(content),
    call_id: maybe(wrong),
    name: maybe(wrong),
    namespace: maybe(wrong),
    arguments: maybe(wrong),
    input: maybe(wrong),
    output: maybe(fc.oneof(text, fc.array(fc.oneof(part, wrong), { maxLength: 3 }), wrong)),
  },
  { requiredKeys: [] },
);
const tool = fc.record(
  {
    type: fc.oneof(fc.constantFrom("function", "custom", "namespace", "tool_search", "web_search", "file_search", "bogus"), wrong),
    name: maybe(fc.oneof(fc.constantFrom("get_weather", "f"), wrong)),
    description: maybe(wrong),
    parameters: maybe(wrong),
    strict: maybe(wrong),
    format: maybe(wrong),
  },
  { requiredKeys: ["type"] },
);
/** Items a client really sends: a user message, and a call with its output (or Codex's agent-namespace output). */
const goodItem = fc.oneof(
  fc.record({ type: fc.constant("message"), role: fc.constant("user"), content: text }),
  fc.record({
    role: fc.constantFrom("user", "developer"),
    content: fc.array(fc.record({ type: fc.constant("input_text"), text }), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ type: fc.constant("function_call_output"), name: text, namespace: fc.constant("agent"), output: text }),
);
const body = fc.record(
  {
    model: fc.oneof({ weight: 6, arbitrary: fc.constant("auto") }, { weight: 1, arbitrary: wrong }),
    input: fc.oneof(
      { weight: 3, arbitrary: text },
      { weight: 3, arbitrary: fc.array(goodItem, { minLength: 1, maxLength: 3 }) },
      { weight: 2, arbitrary: fc.array(fc.oneof(goodItem, item), { minLength: 1, maxLength: 4 }) },
      { weight: 1, arbitrary: wrong },
    ),
    instructions: rarely(wrong),
    tools: rarely(fc.oneof(fc.array(tool, { maxLength: 3 }), wrong)),
    tool_choice: rarely(fc.oneof(fc.constantFrom("auto", "none", "required"), fc.record({ type: wrong, name: rarely(wrong) }), wrong)),
    text: rarely(
      fc.oneof(
        fc.record({
          format: rarely(
            fc.oneof(fc.record({ type: fc.constantFrom("text", "json_object", "json_schema"), name: rarely(wrong), schema: rarely(wrong) }), wrong),
          ),
        }),
        wrong,
      ),
    ),
    max_output_tokens: rarely(fc.oneof(fc.integer({ min: 1, max: 64 }), wrong)),
    temperature: rarely(wrong),
    metadata: rarely(fc.oneof(fc.dictionary(text, text, { maxKeys: 2 }), wrong)),
    user: rarely(wrong),
    safety_identifier: rarely(wrong),
    store: rarely(fc.oneof(fc.boolean(), wrong)),
    previous_response_id: rarely(wrong),
    stream: rarely(fc.oneof(fc.boolean(), wrong)),
    background: rarely(wrong),
  },
  { requiredKeys: ["input"] },
);

/** The stored response a 200 promises, from its JSON or its stream's final event; undefined when it promises none. */
function promised(answer: string, streamed: boolean): string | undefined {
  const response = streamed
    ? (
        JSON.parse(/^data: (.*)$/m.exec(answer.split("\n\n").find((event) => /^event: response\.(completed|incomplete)/.test(event)) ?? "")?.[1] ?? "{}") as {
          response?: { id: string; store: boolean };
        }
      ).response
    : (JSON.parse(answer) as { id: string; store: boolean });
  return response?.store === true ? response.id : undefined;
}

describe("Responses bodies drawn from the schema", () => {
  it("never a 5xx; a 4xx names the field; a stored 200 can be fetched", { timeout: 600_000 }, async () => {
    let served = 0;
    await fc.assert(
      fc.asyncProperty(body, async (drawn) => {
        const response = await stack.router.post("/v1/responses", drawn);
        const answer = await response.text();
        const where = `${response.status} for ${JSON.stringify(drawn).slice(0, 400)}: ${answer.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        if (response.status === 200) {
          served++;
          const id = promised(answer, response.headers.get("content-type")?.startsWith("text/event-stream") === true);
          if (id !== undefined) expect((await stack.router.fetch(`/v1/responses/${id}`)).status, where).toBe(200);
          return;
        }
        expectOpenAiRefusal(response.status, answer, where);
      }),
      { numRuns: 2_000, seed: 36, endOnFailure: true },
    );
    // The draw reaches the provider often enough for the store half to mean something.
    expect(served).toBeGreaterThan(100);
  });
});
