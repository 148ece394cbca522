/**
 * OpenAI's Responses API through the router with the official `openai` client, against
 * real Redis and Postgres and the fake provider: plain and streamed responses (from the
 * provider and then from the cache), a function-call round trip with
 * `function_call_output`, `text.format` with a JSON schema, Codex's request shape, the
 * SDK's typed errors and the audit row naming its surface.
 */
import OpenAI from "openai";
import { Stream } from "openai/streaming";
import { beforeAll, describe, expect, it } from "vitest";
import { flushedRows, makeKey, servedMicros, spentToday, useClientStack } from "../support/clients.ts";
import { uniquePrompt } from "../support/router.ts";
import { auditRows } from "../support/storage.ts";

const env = useClientStack();
let client: OpenAI;

const newKey = (fields: Record<string, unknown>) => makeKey(env.router, env.storage, fields);

beforeAll(() => {
  client = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: env.key, maxRetries: 0 });
});

const weather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  strict: true,
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city", "days"], additionalProperties: false },
};

describe("responses.create", () => {
  it("answers a Response with output_text and usage, the same again from the cache", async () => {
    const params = { model: "auto", input: uniquePrompt("Say hi"), instructions: "Be brief." };
    const { data, response } = await client.responses.create(params).withResponse();
    expect(data).toMatchObject({ object: "response", status: "completed", instructions: "Be brief.", error: null });
    expect(data.id).toMatch(/^resp_/);
    expect(data.output_text).toContain("Fake token1");
    expect(data.output[0]).toMatchObject({ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text" }] });
    expect(data.usage).toMatchObject({ output_tokens: 8, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });
    expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
    expect(response.headers.get("x-tiergate-cache")).toBe("MISS");
    const sent = env.fake.seen.at(-1)!.body as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: params.input },
    ]);
    const again = await client.responses.create(params).withResponse();
    expect(again.response.headers.get("x-tiergate-cache")).toBe("HIT");
    expect(again.data.output_text).toBe(data.output_text);
    expect(env.fake.seen).toHaveLength(1);
  });

  it("streams the events the SDK assembles into the same Response, from the cache too", async () => {
    const params = { model: "auto", input: uniquePrompt("Stream a greeting") };
    const types: string[] = [];
    const sequence: number[] = [];
    const stream = client.responses.stream(params);
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
    }
    const final = await stream.finalResponse();
    expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    expect(types.filter((type) => type === "response.output_text.delta")).toHaveLength(8);
    expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    expect(sequence).toEqual(sequence.map((_, i) => i));
    expect(final.output_text).toContain("Fake token1");
    expect(final.usage?.output_tokens).toBe(8);
    const again = await client.responses.stream(params).finalResponse();
    expect(again.output_text).toBe(final.output_text);
    expect(env.fake.seen).toHaveLength(1);
  });

  it("ends with an error the SDK raises when the provider breaks off after the first byte", async () => {
    env.fake.behaviour.breakAfterChunks = 3;
    const stream = client.responses.stream({ model: "auto", input: uniquePrompt("break") });
    await expect(stream.finalResponse()).rejects.toThrow(/broke off/);
  });

  it("says incomplete, with its reason, when the answer reaches max_output_tokens", async () => {
    const data = await client.responses.create({ model: "auto", input: uniquePrompt("Say hi"), max_output_tokens: 16 });
    expect(env.fake.seen.at(-1)!.body).toMatchObject({ max_tokens: 16 });
    env.fake.behaviour.completionTokens = 40;
    const cut = await client.responses.create({ model: "auto", input: uniquePrompt("Say more"), max_output_tokens: 16 });
    expect(data.status).toBe("completed");
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });
});

/** Sends input items at tier 3 with these tools, as a Response or as its stream's final Response. */
const asker =
  (stream: boolean, tools: OpenAI.Responses.Tool[]) =>
  (input: OpenAI.Responses.ResponseInput): Promise<OpenAI.Responses.Response> =>
    stream ? client.responses.stream({ model: "tier:3", tools, input }).finalResponse() : client.responses.create({ model: "tier:3", tools, input });

describe("cache and reasoning usage", () => {
  it("reads input_tokens_details.cached_tokens and output_tokens_details.reasoning_tokens, from the provider and the cache, streamed and not", async () => {
    env.fake.behaviour.usage = {
      prompt_tokens: 1_300,
      completion_tokens: 8,
      prompt_tokens_details: { cached_tokens: 1_152 },
      completion_tokens_details: { reasoning_tokens: 3 },
    };
    const expected = { input_tokens: 1_300, input_tokens_details: { cached_tokens: 1_152 }, output_tokens: 8, output_tokens_details: { reasoning_tokens: 3 } };
    for (const stream of [false, true]) {
      const params = { model: "auto", input: uniquePrompt("Cached usage") };
      for (const cache of ["MISS", "HIT"]) {
        const { data, response } = await client.responses.create({ ...params, stream }).withResponse();
        let done: OpenAI.Responses.Response | undefined;
        if (data instanceof Stream) {
          for await (const event of data as Stream<OpenAI.Responses.ResponseStreamEvent>) if (event.type === "response.completed") done = event.response;
        } else done = data as OpenAI.Responses.Response;
        expect(response.headers.get("x-tiergate-cache")).toBe(cache);
        expect(done?.usage).toMatchObject(expected);
      }
    }
  });
});

describe("function calls and structured output", () => {
  for (const stream of [false, true]) {
    it(`round-trip: a function_call with its call_id, then function_call_output answered as text${stream ? ", streamed" : ""}`, async () => {
      const input: OpenAI.Responses.ResponseInput = [{ role: "user", content: uniquePrompt("What is the weather in Oslo?") }];
      const ask = asker(stream, [weather]);
      const first = await ask(input);
      const call = first.output.find((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === "function_call")!;
      expect(call).toMatchObject({ type: "function_call", name: "get_weather", status: "completed" });
      expect(JSON.parse(call.arguments)).toEqual({ city: "fake", days: 1 });
      const second = await ask([...input, call, { type: "function_call_output", call_id: call.call_id, output: "Sunny, 20 °C" }]);
      expect(second.output_text).toContain("Fake");
      const sent = (env.fake.seen.at(-1)!.body as { messages: Record<string, unknown>[]; tools: unknown[] }).messages;
      expect(sent.at(-2)).toMatchObject({ role: "assistant", tool_calls: [{ id: call.call_id, function: { name: "get_weather" } }] });
      expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: call.call_id, content: "Sunny, 20 °C" });
      expect((env.fake.seen.at(-1)!.body as { tools: unknown[] }).tools[0]).toMatchObject({
        type: "function",
        function: { name: "get_weather", strict: true },
      });
    });
  }

  for (const stream of [false, true]) {
    it(`a custom (free-form) tool: its call comes back as custom_tool_call with the input as written${stream ? ", streamed" : ""}`, async () => {
      const patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";
      const tool = {
        type: "custom" as const,
        name: "apply_patch",
        description: "Edit files",
        format: { type: "grammar" as const, syntax: "lark" as const, definition: "start: /.+/" },
      };
      const input: OpenAI.Responses.ResponseInput = [
        { role: "user", content: `${uniquePrompt("patch")} use the apply_patch tool with ${JSON.stringify({ input: patch })}` },
      ];
      const ask = asker(stream, [tool]);
      const first = await ask(input);
      const call = first.output.find((item): item is OpenAI.Responses.ResponseCustomToolCall => item.type === "custom_tool_call")!;
      expect(call).toMatchObject({ type: "custom_tool_call", name: "apply_patch", input: patch });
      const offered = (env.fake.seen.at(-1)!.body as { tools: { function: Record<string, unknown> }[] }).tools[0]!.function;
      expect(offered).toMatchObject({ name: "apply_patch", parameters: { required: ["input"] } });
      expect(JSON.stringify(offered)).toContain("start: /.+/");
      const second = await ask([...input, call, { type: "custom_tool_call_output", call_id: call.call_id, output: "Done" }]);
      expect(second.output_text).toContain("Fake");
      const sent = (env.fake.seen.at(-1)!.body as { messages: Record<string, unknown>[] }).messages;
      expect(sent.at(-2)).toMatchObject({
        role: "assistant",
        tool_calls: [{ id: call.call_id, function: { name: "apply_patch", arguments: JSON.stringify({ input: patch }) } }],
      });
      expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: call.call_id, content: "Done" });
    });
  }

  it("text.format with a JSON schema: the provider is asked for it, and output_text parses", async () => {
    const format = {
      type: "json_schema" as const,
      name: "person",
      strict: true,
      schema: { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false },
    };
    const data = await client.responses.create({ model: "auto", input: uniquePrompt("Bob is 30"), text: { format } });
    expect(JSON.parse(data.output_text)).toEqual({ name: "fake", age: 1 });
    expect(env.fake.seen.at(-1)!.body).toMatchObject({ response_format: { type: "json_schema", json_schema: { name: "person", strict: true } } });
  });
});

describe("stored responses", () => {
  it("continues with previous_response_id, reading the history once, then retrieves, lists and deletes", async () => {
    const first = await client.responses.create({ model: "auto", instructions: "Be brief.", input: uniquePrompt("My name is Ada.") });
    expect(first).toMatchObject({ store: true });
    const second = await client.responses.create({ model: "auto", previous_response_id: first.id, input: "What is my name?" });
    expect(second.previous_response_id).toBe(first.id);
    // The provider got the whole conversation: the first turn and its answer, then the new one (the first's instructions are its own).
    const sent = (env.fake.seen.at(-1)!.body as { messages: { role: string; content: unknown }[] }).messages;
    expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(sent[1]!.content).toBe(first.output_text);
    // Three turns deep: still one stored row read, the second's, which holds the first's history.
    await client.responses.create({ model: "auto", previous_response_id: second.id, input: "And again?" });
    expect((env.fake.seen.at(-1)!.body as { messages: unknown[] }).messages).toHaveLength(5);

    expect(await client.responses.retrieve(second.id)).toMatchObject({ id: second.id, object: "response", output_text: second.output_text });
    const items = await client.responses.inputItems.list(second.id, { order: "asc" });
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({ type: "message", role: "user", content: [{ type: "input_text", text: "What is my name?" }] });
    expect(await client.responses.delete(second.id)).toMatchObject({ id: second.id, deleted: true });
    const gone = await client.responses.retrieve(second.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
    const cannot = await client.responses.create({ model: "auto", previous_response_id: second.id, input: "hi" }).catch((e: unknown) => e);
    expect(cannot).toBeInstanceOf(OpenAI.NotFoundError);
    expect((cannot as InstanceType<typeof OpenAI.NotFoundError>).param).toBe("previous_response_id");
  });

  it("a streamed response is stored before its end is sent: the next request can continue it at once", async () => {
    const streamed = await client.responses.stream({ model: "auto", input: uniquePrompt("Remember this") }).finalResponse();
    const next = await client.responses.create({ model: "auto", previous_response_id: streamed.id, input: "What did I say?" });
    expect(next.status).toBe("completed");
    expect((env.fake.seen.at(-1)!.body as { messages: unknown[] }).messages).toHaveLength(3);
  });

  it("another tenant's response is not found, and store: false stores nothing", async () => {
    const mine = await client.responses.create({ model: "auto", input: uniquePrompt("private") });
    const other = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: (await newKey({ tenant: "globex" })).key, maxRetries: 0 });
    const attempts = [() => other.responses.retrieve(mine.id), () => other.responses.delete(mine.id), () => other.responses.inputItems.list(mine.id)];
    for (const attempt of attempts) {
      const error = await (attempt() as Promise<unknown>).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as Error).message).not.toContain("private");
    }
    const continued = await other.responses.create({ model: "auto", previous_response_id: mine.id, input: "hi" }).catch((e: unknown) => e);
    expect(continued).toBeInstanceOf(OpenAI.NotFoundError);
    expect(await client.responses.retrieve(mine.id)).toMatchObject({ id: mine.id });

    const unstored = await client.responses.create({ model: "auto", input: uniquePrompt("forget me"), store: false });
    expect(unstored).toMatchObject({ store: false });
    expect((await env.storage.db.query("SELECT count(*)::int AS n FROM responses WHERE id = $1", [unstored.id])).rows[0].n).toBe(0);
    expect(await client.responses.retrieve(unstored.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("the daily job deletes what is past its retention; the audit row names the stored id, never what it held", async () => {
    const kept = await client.responses.create({ model: "auto", input: uniquePrompt("kept a while") });
    const old = await client.responses.create({ model: "auto", input: uniquePrompt("long ago") });
    const [row] = (await env.storage.db.query("SELECT expires_at - created_at AS kept FROM responses WHERE id = $1", [kept.id])).rows;
    expect(row.kept.days).toBe(30);
    await env.storage.db.query("UPDATE responses SET expires_at = now() - interval '1 second' WHERE id = $1", [old.id]);
    await env.router.scheduled("17 3 * * *");
    const ids = (await env.storage.db.query("SELECT id FROM responses WHERE id = ANY($1)", [[kept.id, old.id]])).rows.map((r) => r.id);
    expect(ids).toEqual([kept.id]);

    const deadline = Date.now() + 8_000;
    let audited: Record<string, unknown>[] = [];
    while (audited.length < 2 && Date.now() < deadline) {
      await env.router.scheduled();
      audited = (await auditRows(env.storage.db)).filter((r) => r.stored_response === kept.id || r.stored_response === old.id);
    }
    expect(audited).toHaveLength(2);
    expect(JSON.stringify(audited)).not.toContain("kept a while");
  });
});

describe("what Codex sends", () => {
  it("a turn as Codex sends it is served: developer items, a namespace and a web search dropped with a note, reasoning, store false", async () => {
    const body = {
      model: "auto",
      stream: true,
      store: false,
      tool_choice: "auto",
      parallel_tool_calls: true,
      reasoning: { summary: "auto" },
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "01a23ea0-session",
      client_metadata: { "x-codex-window-id": "01a23ea0:0" },
      input: [
        { type: "message", role: "developer", content: [{ type: "input_text", text: "You are a coding agent running in the Codex CLI. ".repeat(50) }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "<environment_context>\n  <cwd>/tmp</cwd>\n</environment_context>" }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: uniquePrompt("say hi") }] },
      ],
      tools: [
        { ...weather, name: "exec_command", strict: false },
        { type: "namespace", name: "multi_agent_v1", description: "Sub-agents", tools: [{ ...weather, name: "close_agent" }] },
        { type: "web_search", external_web_access: false },
      ],
    };
    const response = await env.router.post("/v1/responses", body, { authorization: `Bearer ${client.apiKey}` });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-dropped")).toBe("reasoning, namespace tool multi_agent_v1, web_search");
    const text = await response.text();
    expect(text).toContain("event: response.completed");
    const sent = env.fake.seen.at(-1)!.body as Record<string, unknown>;
    expect((sent.messages as { role: string }[]).map((m) => m.role)).toEqual(["developer", "user", "user"]);
    expect((sent.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(["exec_command"]);
    expect(sent.prompt_cache_key).toBe("01a23ea0-session");
    expect(sent).not.toHaveProperty("client_metadata");
    expect(sent).not.toHaveProperty("include");
  });

  it("after Codex's create_goal, its agent-namespace output without a call_id is dropped with a note, and the turn is served", async () => {
    const goal = { ...weather, name: "create_goal", strict: false };
    const input = [
      { type: "message", role: "user", content: uniquePrompt("set a goal") },
      { type: "function_call", call_id: "call_1", name: "create_goal", arguments: '{"objective":"x"}' },
      { type: "function_call_output", call_id: "call_1", output: "goal set" },
      // What Codex 0.171 sends after create_goal: an output of its own `agent` namespace, answering no call.
      { type: "function_call_output", name: "goal_objective", namespace: "agent", output: "x" },
    ] as unknown as OpenAI.Responses.ResponseInput;
    const { data, response } = await client.responses.create({ model: "auto", input, tools: [goal] }).withResponse();
    expect(data.status).toBe("completed");
    expect(data.output_text).toContain("Fake");
    expect(response.headers.get("x-tiergate-dropped")).toBe("agent.goal_objective output without a call_id");
    const sent = (env.fake.seen.at(-1)!.body as { messages: Record<string, unknown>[] }).messages;
    expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
    expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: "call_1", content: "goal set" });
    const again = await client.responses.retrieve(data.id);
    expect(again.output_text).toBe(data.output_text);
  });

  it("a function_call_output without a call_id and outside a namespace is still a 400 naming the field", async () => {
    const input = [{ type: "function_call_output", name: "goal_objective", output: "x" }] as unknown as OpenAI.Responses.ResponseInput;
    const error = await client.responses.create({ model: "auto", input }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("input[0].call_id");
  });
});

describe("errors, in OpenAI's shape", () => {
  it("a hosted tool is refused with a 400 naming it, as the SDK's BadRequestError", async () => {
    const error = await client.responses
      .create({ model: "auto", input: "search the web", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("tools[0].type");
    expect((error as Error).message).toContain("file_search");
  });

  it("a bad input item is a 400 with its param, a bad key a 401, a key over its rpm a 429", async () => {
    const bad = await client.responses.create({ model: "auto", input: [{ type: "item_reference", id: "msg_1" }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("input[0].type");
    const wrong = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: "tg-not-a-key-0123456789", maxRetries: 0 });
    expect(await wrong.responses.create({ model: "auto", input: "hi" }).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
    const limited = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: (await newKey({ rpm: 1 })).key, maxRetries: 0 });
    await limited.responses.create({ model: "auto", input: uniquePrompt("hi") });
    const over = await limited.responses.create({ model: "auto", input: uniquePrompt("hi") }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(OpenAI.RateLimitError);
  });
});

describe("budgets", () => {
  it("serves a budget worth three responses exactly three times, and the rows sum to the spend", async () => {
    // 1 µ$ each at mistral-nemo's prices (a short prompt and at most 16 tokens), so 3 µ$ pays for three.
    const { key, id } = await newKey({ daily_budget_usd: 0.000003, rpm: 10_000 });
    const limited = new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: key, maxRetries: 0 });
    const results = [];
    for (let i = 0; i < 5; i++) {
      const params = { model: "openrouter/mistralai/mistral-nemo", input: uniquePrompt("budget"), max_output_tokens: 16, store: false };
      results.push(await limited.responses.create(params).catch((error: unknown) => error));
    }
    const refusals = results.filter((result) => result instanceof OpenAI.RateLimitError);
    expect(refusals).toHaveLength(2);
    expect((refusals[0] as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("insufficient_quota");
    const rows = await flushedRows(env.router, env.storage, id, 5);
    expect(rows.filter((row) => row.http_status === 200)).toHaveLength(3);
    expect(servedMicros(rows)).toBe(3);
    expect(await spentToday(env.router, key)).toBe(0.000003);
  });
});

describe("the audit", () => {
  it("names the responses surface on every row, with the hash", async () => {
    const deadline = Date.now() + 8_000;
    let rows: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      await env.router.scheduled();
      rows = (await auditRows(env.storage.db)).filter((row) => row.key_id === env.keyId && row.model !== null);
      if (rows.length >= 10) break;
    }
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) expect(row).toMatchObject({ surface: "responses", constitutional_hash: "cdd01ef066bc6cf2" });
  });
});
