/**
 * Property (issue 36, item 3): bodies drawn from the Chat Completions schema itself (known
 * roles and content part types with wrong field types, missing fields, NULs, lone
 * surrogates, deep nesting, wrong tools, tool_choice, response_format, stream_options and
 * token limits) are never a 5xx; a refusal is a 4xx in OpenAI's error body that names the
 * field; and a 200 does what the body asked: streams when asked, counts usage when asked,
 * writes no more than its limit, calls the tool it was told to and answers JSON in JSON mode.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chat, uniquePrompt } from "../support/router.ts";
import { expectOpenAiRefusal, maybe, rarely, textOf, wrongOf } from "../support/schema-draws.ts";
import { useFakeStack } from "../support/stack.ts";

const stack = useFakeStack();

const text = textOf("call_1", "f", "get_weather");
const wrong = wrongOf(text);
/** Mostly absent, else right or wrong: a field clients set, wrongly now and then. */
const sometimes = <T>(right: fc.Arbitrary<T>) => rarely(fc.oneof({ weight: 3, arbitrary: right }, { weight: 1, arbitrary: wrong }));

const mark = fc.oneof(fc.record({ type: fc.constantFrom("ephemeral", "bogus"), ttl: maybe(fc.oneof(fc.constantFrom("5m", "1h", "1d"), wrong)) }), wrong);
const part = fc.record(
  {
    type: fc.oneof(fc.constantFrom("text", "image_url", "input_audio", "file", "refusal", "bogus"), wrong),
    text: maybe(wrong),
    image_url: maybe(
      fc.oneof(
        fc.record(
          { url: maybe(fc.oneof(fc.constant("data:image/png;base64,iVBORw0KGgo="), wrong)), detail: maybe(fc.oneof(fc.constantFrom("auto", "ultra"), wrong)) },
          { requiredKeys: [] },
        ),
        wrong,
      ),
    ),
    input_audio: maybe(fc.oneof(fc.record({ data: maybe(wrong), format: maybe(fc.oneof(fc.constant("wav"), wrong)) }, { requiredKeys: [] }), wrong)),
    file: maybe(wrong),
    refusal: maybe(wrong),
    cache_control: maybe(mark),
  },
  { requiredKeys: [] },
);
const toolCall = fc.oneof(
  fc.record(
    {
      id: maybe(wrong),
      type: maybe(fc.oneof(fc.constant("function"), wrong)),
      function: maybe(fc.oneof(fc.record({ name: maybe(wrong), arguments: maybe(wrong) }, { requiredKeys: [] }), wrong)),
    },
    { requiredKeys: [] },
  ),
  wrong,
);
const message = fc.record(
  {
    role: fc.oneof({ weight: 5, arbitrary: fc.constantFrom("system", "developer", "user", "assistant", "tool", "function") }, { weight: 1, arbitrary: wrong }),
    content: fc.oneof(
      { weight: 3, arbitrary: text },
      { weight: 3, arbitrary: fc.array(fc.oneof(part, wrong), { maxLength: 3 }) },
      { weight: 1, arbitrary: wrong },
    ),
    name: maybe(wrong),
    tool_call_id: maybe(wrong),
    tool_calls: maybe(fc.oneof(fc.array(toolCall, { maxLength: 2 }), wrong)),
    cache_control: maybe(mark),
  },
  { requiredKeys: [] },
);
/** Messages a client really sends, so that some bodies reach the provider. */
const goodMessage = fc.oneof(
  fc.record({ role: fc.constant("user"), content: text }),
  fc.record({
    role: fc.constantFrom("system", "developer", "user"),
    content: fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ role: fc.constant("assistant"), content: text }),
);

const PARAMETERS = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const goodTool = fc.record({
  type: fc.constant("function"),
  function: fc.record({ name: fc.constantFrom("get_weather", "f"), parameters: fc.constant(PARAMETERS) }),
});
const tool = fc.oneof(
  fc.record(
    {
      type: maybe(fc.oneof(fc.constant("function"), wrong)),
      function: maybe(
        fc.oneof(
          fc.record(
            {
              name: fc.oneof(fc.constantFrom("get_weather", "f", "no spaces"), wrong),
              description: maybe(wrong),
              parameters: maybe(fc.oneof(fc.constant(PARAMETERS), wrong)),
              strict: maybe(wrong),
            },
            { requiredKeys: [] },
          ),
          wrong,
        ),
      ),
      cache_control: maybe(mark),
    },
    { requiredKeys: [] },
  ),
  wrong,
);
const toolChoice = fc.oneof(
  fc.constantFrom("none", "auto", "required", "bogus"),
  fc.record(
    {
      type: fc.oneof(fc.constant("function"), wrong),
      function: maybe(fc.oneof(fc.record({ name: maybe(fc.oneof(fc.constantFrom("get_weather", "f", "missing"), wrong)) }, { requiredKeys: [] }), wrong)),
    },
    { requiredKeys: [] },
  ),
  wrong,
);
const responseFormat = fc.oneof(
  fc.record(
    {
      type: fc.oneof(fc.constantFrom("text", "json_object", "json_schema", "xml"), wrong),
      json_schema: maybe(fc.oneof(fc.record({ name: maybe(wrong), schema: maybe(fc.oneof(fc.constant(PARAMETERS), wrong)), strict: maybe(wrong) }), wrong)),
    },
    { requiredKeys: [] },
  ),
  wrong,
);
const tokens = fc.integer({ min: 1, max: 64 });
/** A body a client really sends, asking for what a 200 must then do: a stream, its usage, a limit, a tool call, JSON. */
const asking = fc.record(
  {
    model: fc.constant("auto"),
    messages: fc.array(goodMessage, { minLength: 1, maxLength: 2 }),
    tools: maybe(
      fc
        .subarray(["get_weather", "f"], { minLength: 1 })
        .map((names) => names.map((name) => ({ type: "function", function: { name, parameters: PARAMETERS } }))),
    ),
    tool_choice: maybe(
      fc.oneof(
        fc.constantFrom("none", "auto", "required"),
        fc.constantFrom("get_weather", "f").map((name) => ({ type: "function", function: { name } })),
      ),
    ),
    response_format: maybe(
      fc.oneof(fc.constant({ type: "json_object" }), fc.constant({ type: "json_schema", json_schema: { name: "city", schema: PARAMETERS } })),
    ),
    stream: maybe(fc.boolean()),
    stream_options: maybe(fc.record({ include_usage: fc.boolean() })),
    max_tokens: maybe(tokens),
    max_completion_tokens: maybe(tokens),
  },
  { requiredKeys: ["messages"] },
);
const hostile = fc.record(
  {
    model: fc.oneof({ weight: 6, arbitrary: fc.constant("auto") }, { weight: 1, arbitrary: wrong }),
    messages: fc.oneof(
      { weight: 3, arbitrary: fc.array(goodMessage, { minLength: 1, maxLength: 2 }) },
      { weight: 3, arbitrary: fc.array(fc.oneof(goodMessage, message), { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: wrong },
    ),
    tools: sometimes(fc.array(fc.oneof(goodTool, tool), { maxLength: 3 })),
    tool_choice: sometimes(toolChoice),
    response_format: sometimes(responseFormat),
    stream: sometimes(fc.boolean()),
    stream_options: sometimes(fc.record({ include_usage: maybe(fc.oneof(fc.boolean(), wrong)) })),
    max_tokens: sometimes(tokens),
    max_completion_tokens: sometimes(tokens),
    n: sometimes(fc.integer({ min: 1, max: 2 })),
    temperature: rarely(wrong),
    top_p: rarely(wrong),
    stop: sometimes(fc.array(text, { maxLength: 5 })),
    presence_penalty: rarely(wrong),
    seed: rarely(wrong),
    logprobs: rarely(wrong),
    top_logprobs: rarely(wrong),
    logit_bias: rarely(fc.oneof(fc.dictionary(text, fc.integer({ min: -100, max: 100 }), { maxKeys: 2 }), wrong)),
    parallel_tool_calls: rarely(wrong),
    user: rarely(wrong),
    prompt_cache_key: rarely(wrong),
  },
  { requiredKeys: ["messages"] },
);
const body = fc.oneof({ weight: 1, arbitrary: asking }, { weight: 2, arbitrary: hostile });
type Drawn = typeof body extends fc.Arbitrary<infer T> ? T : never;

/** What a 200 said, read alike from JSON and from a stream: its text, the tools it called, its usage, whether it ended. */
type Said = { object: unknown; content: string; called: string[]; usage: Usage | undefined; ended: boolean };
type Usage = { completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } };
type Delta = { content?: unknown; tool_calls?: { function?: { name?: unknown } }[] };
type Choice = { message?: Delta; delta?: Delta };

function said(answer: string, streamed: boolean): Said {
  if (!streamed) {
    const completion = JSON.parse(answer) as { object?: unknown; choices?: Choice[]; usage?: Usage };
    const first = completion.choices?.[0]?.message ?? {};
    return { object: completion.object, content: String(first.content ?? ""), called: namesOf(first), usage: completion.usage, ended: true };
  }
  const data = answer
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice(6));
  const chunks = data.filter((line) => line !== "[DONE]").map((line) => JSON.parse(line) as { object?: unknown; choices?: Choice[]; usage?: Usage });
  const deltas = chunks.map((chunk) => chunk.choices?.[0]?.delta ?? {});
  return {
    object: chunks[0]?.object,
    content: deltas.map((delta) => String(delta.content ?? "")).join(""),
    called: deltas.flatMap(namesOf),
    usage: chunks.find((chunk) => chunk.usage != null)?.usage,
    ended: data.at(-1) === "[DONE]",
  };
}

const namesOf = (delta: Delta): string[] => (delta.tool_calls ?? []).flatMap((call) => (typeof call.function?.name === "string" ? [call.function.name] : []));

/** A 200 does what the body asked of it. */
function expectKept(drawn: Drawn, answer: string, contentType: string, where: string): void {
  const streamed = drawn.stream === true;
  expect(contentType.startsWith(streamed ? "text/event-stream" : "application/json"), where).toBe(true);
  const what = said(answer, streamed);
  expect(what.object, where).toBe(streamed ? "chat.completion.chunk" : "chat.completion");
  expect(what.ended, where).toBe(true);
  const options = drawn.stream_options as { include_usage?: unknown } | null | undefined;
  // The router always asks the provider for a stream's usage; the client sees it only if it asked too.
  if (!streamed || options?.include_usage === true) expect(typeof what.usage?.prompt_tokens_details?.cached_tokens, where).toBe("number");
  else expect(what.usage, where).toBeUndefined();
  const limits = [drawn.max_tokens, drawn.max_completion_tokens].filter((limit): limit is number => typeof limit === "number");
  if (what.usage !== undefined && limits.length > 0) expect(what.usage.completion_tokens as number, where).toBeLessThanOrEqual(Math.max(...limits));
  const choice = drawn.tool_choice as { function?: { name?: unknown } } | string | null | undefined;
  if (choice === "none") expect(what.called, where).toEqual([]);
  if (choice === "required") expect(what.called.length, where).toBeGreaterThan(0);
  if (typeof choice === "object" && choice !== null) expect(what.called, where).toEqual([choice.function?.name]);
  const format = (drawn.response_format as { type?: unknown } | null | undefined)?.type;
  if ((format === "json_object" || format === "json_schema") && what.called.length === 0) expect(() => JSON.parse(what.content), where).not.toThrow();
}

describe("Chat Completions bodies drawn from the schema", () => {
  it("never a 5xx; a 4xx names the field; a 200 does what was asked", { timeout: 600_000 }, async () => {
    let served = 0;
    await fc.assert(
      fc.asyncProperty(body, async (drawn) => {
        const response = await stack.router.post("/v1/chat/completions", drawn);
        const answer = await response.text();
        const where = `${response.status} for ${JSON.stringify(drawn).slice(0, 400)}: ${answer.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        if (response.status === 200) {
          served++;
          expectKept(drawn, answer, response.headers.get("content-type") ?? "", where);
          return;
        }
        expectOpenAiRefusal(response.status, answer, where);
      }),
      { numRuns: 2_000, seed: 36, endOnFailure: true },
    );
    // The draw reaches the provider often enough for the promises of a 200 to mean something.
    expect(served).toBeGreaterThan(100);
  });
});

/** What the draw found: a forced tool call the router took and answered 200 without (before, no tool call, or another tool's). */
describe("a tool choice no answer could keep is refused, naming it", () => {
  const weather = { type: "function", function: { name: "get_weather", parameters: PARAMETERS } };
  const named = (name: string) => ({ type: "function", function: { name } });
  it.each([
    { shape: "a function named, and no tools", extra: { tool_choice: named("get_weather") }, param: "tool_choice" },
    { shape: "a function named that is not among the tools", extra: { tools: [weather], tool_choice: named("f") }, param: "tool_choice.function.name" },
    { shape: "a function choice without its function", extra: { tools: [weather], tool_choice: { type: "function" } }, param: "tool_choice.function" },
    {
      shape: "a function choice whose function is a number",
      extra: { tools: [weather], tool_choice: { type: "function", function: 1 } },
      param: "tool_choice.function",
    },
    { shape: "required, and no tools", extra: { tool_choice: "required" }, param: "tool_choice" },
    { shape: "required, and an empty list of tools", extra: { tools: [], tool_choice: "required" }, param: "tool_choice" },
  ])("$shape", async ({ extra, param }) => {
    const response = await stack.router.post("/v1/chat/completions", { ...chat(uniquePrompt()), ...extra });
    const answer = await response.text();
    expect(response.status, answer).toBe(400);
    expect((JSON.parse(answer) as { error: { param: unknown } }).error.param).toBe(param);
  });

  it("a function named among the tools is called; auto and none need no tools", async () => {
    const forced = await stack.router.post("/v1/chat/completions", { ...chat(uniquePrompt()), tools: [weather], tool_choice: named("get_weather") });
    expect(said(await forced.text(), false).called).toEqual(["get_weather"]);
    for (const tool_choice of ["auto", "none"]) {
      expect((await stack.router.post("/v1/chat/completions", { ...chat(uniquePrompt()), tool_choice })).status).toBe(200);
    }
  });
});
