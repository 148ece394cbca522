/**
 * Bad input on the Responses surface (issue 36, item 3): a NUL in an id, parts of a
 * tool's output that are not objects, a NUL in what a stored response would keep. Each is
 * a 4xx in OpenAI's error body naming the field, never a 5xx, and never a 200 promising
 * a stored response that was not stored.
 */
import { describe, expect, it } from "vitest";
import { uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const stack = useFakeStack();

type OpenAiError = { error: { message: string; type: string; param: string | null; code: string | null } };

async function errorOf(response: Response, status: number): Promise<OpenAiError["error"]> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as OpenAiError;
  expect(body.error.type).toBe("invalid_request_error");
  return body.error;
}

describe("a NUL in a response id", () => {
  for (const [name, path, method] of [
    ["GET", "/v1/responses/resp_%00x", "GET"],
    ["GET input_items", "/v1/responses/resp_%00x/input_items", "GET"],
    ["DELETE", "/v1/responses/resp_%00x", "DELETE"],
  ] as const) {
    it(`${name}: 404 naming response_id, before any query`, async () => {
      const error = await errorOf(await stack.router.fetch(path, { method }), 404);
      expect(error).toMatchObject({ code: "not_found", param: "response_id" });
    });
  }

  it("previous_response_id: 404 naming the field, and the provider is not called", async () => {
    const before = stack.fake.seen.length;
    const response = await stack.router.post("/v1/responses", { model: "auto", input: uniquePrompt("go on"), previous_response_id: "resp_\u0000x" });
    expect(await errorOf(response, 404)).toMatchObject({ code: "not_found", param: "previous_response_id" });
    expect(stack.fake.seen.length).toBe(before);
  });
});

describe("function_call_output parts that are not objects", () => {
  for (const [name, output, field] of [
    ["a number", [1, "x"], "input[1].output[0]"],
    ["a string", ["x"], "input[1].output[0]"],
    ["null", [{ type: "input_text", text: "ok" }, null], "input[1].output[1]"],
  ] as const) {
    it(`${name}: 400 naming ${field}`, async () => {
      const input = [
        { type: "function_call", call_id: "call_1", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output },
      ];
      const error = await errorOf(await stack.router.post("/v1/responses", { model: "auto", input }), 400);
      expect(error.param).toBe(field);
      expect(error.message).toContain(`'${field}'`);
    });
  }
});

describe("a NUL in what a stored response keeps", () => {
  const text = (value: string) => [{ type: "message", role: "user", content: [{ type: "input_text", text: value }] }];
  for (const [name, fields, param] of [
    ["input as text", { input: "hi\u0000there" }, "input"],
    ["an input item", { input: text("hi\u0000there") }, "input[0].content[0].text"],
    ["user", { user: "u\u0000" }, "user"],
    ["safety_identifier", { safety_identifier: "s\u0000" }, "safety_identifier"],
    ["a metadata value", { metadata: { tag: "a\u0000" } }, "metadata.tag"],
    ["a metadata key", { metadata: { "t\u0000g": "a" } }, "metadata.t\u0000g"],
  ] as const) {
    it(`${name}: stored, a 400 naming ${JSON.stringify(param)} before the provider is called`, async () => {
      const before = stack.fake.seen.length;
      const body: Record<string, unknown> = { model: "auto", input: uniquePrompt("hi") };
      Object.assign(body, fields);
      const error = await errorOf(await stack.router.post("/v1/responses", body), 400);
      expect(error.param).toBe(param);
      expect(error.message).toContain("NUL");
      expect(stack.fake.seen.length).toBe(before);
    });
  }

  it("with store: false it is served, as the provider takes it", async () => {
    const response = await stack.router.post("/v1/responses", { model: "auto", input: `${uniquePrompt("hi")}\u0000`, user: "u\u0000", store: false });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { store: boolean }).store).toBe(false);
  });

  it("every 200 that says store: true can be read back", async () => {
    const response = await stack.router.post("/v1/responses", { model: "auto", input: uniquePrompt("kept"), metadata: { tag: "fine" } });
    expect(response.status).toBe(200);
    const { id, store } = (await response.json()) as { id: string; store: boolean };
    expect(store).toBe(true);
    expect((await stack.router.fetch(`/v1/responses/${id}`)).status).toBe(200);
  });
});

describe("what the client named, in x-tiergate-dropped", () => {
  it("a NUL or a non-ASCII character in a dropped field's or tool's name reads as '?', and the turn is served", async () => {
    const body = {
      model: "auto",
      input: uniquePrompt("hi"),
      store: false,
      "extra\u0000": 1,
      tools: [{ type: "namespace", name: "ns\u0000é" }],
      "\ninjected: yes": 1,
    };
    const response = await stack.router.post("/v1/responses", body);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-dropped")).toBe("extra?, ?injected: yes, namespace tool ns??");
    expect(response.headers.get("injected")).toBeNull();
  });
});
