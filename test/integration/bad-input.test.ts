/** Table of malformed and hostile requests: each gets the right status and OpenAI's error body, never a 5xx. */
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postHeadersOnly } from "../support/declared-body.ts";
import { chat, type Router, startRouter } from "../support/router.ts";

const LIMIT = 2 * 1024 * 1024;
let router: Router;

beforeAll(async () => (router = await startRouter({ MAX_BODY_BYTES: String(LIMIT) })));
afterAll(() => router.close());

type Case = {
  name: string;
  body: unknown;
  headers?: Record<string, string>;
  status: number;
  param?: string | null;
  code?: string;
};

const user = (content: unknown) => ({ messages: [{ role: "user", content }] });
const deep = (depth: number): string => `{"messages":[{"role":"user","content":"hi","x":${"[".repeat(depth)}${"]".repeat(depth)}}]}`;

const CASES: Case[] = [
  { name: "non-JSON body", body: "{not json", status: 400, code: "invalid_json" },
  { name: "JSON that is not an object", body: "[1,2]", status: 400, code: "invalid_type" },
  { name: "JSON null", body: "null", status: 400, code: "invalid_type" },
  { name: "wrong content type", body: chat("hi"), headers: { "content-type": "text/plain" }, status: 415, code: "unsupported_media_type" },
  { name: "form content type", body: "a=b", headers: { "content-type": "application/x-www-form-urlencoded" }, status: 415 },
  { name: "missing messages", body: { model: "auto" }, status: 400, param: "messages", code: "invalid_type" },
  { name: "empty messages", body: { messages: [] }, status: 400, param: "messages" },
  { name: "messages not an array", body: { messages: "hi" }, status: 400, param: "messages" },
  { name: "unknown role", body: { messages: [{ role: "wizard", content: "hi" }] }, status: 400, param: "messages[0].role" },
  { name: "message without content", body: { messages: [{ role: "user" }] }, status: 400, param: "messages[0].content" },
  { name: "content of the wrong type", body: user(42), status: 400, param: "messages[0].content" },
  { name: "unknown content part", body: user([{ type: "video", url: "x" }]), status: 400, param: "messages[0].content[0].type" },
  { name: "tool message without tool_call_id", body: { messages: [{ role: "tool", content: "x" }] }, status: 400, param: "messages[0].tool_call_id" },
  { name: "model of the wrong type", body: { model: 42, ...user("hi") }, status: 400, param: "model" },
  { name: "unknown model", body: { model: "gpt-17", ...user("hi") }, status: 404, param: "model", code: "model_not_found" },
  { name: "temperature too high", body: chat("hi", { temperature: 3 }), status: 400, param: "temperature" },
  { name: "temperature negative", body: chat("hi", { temperature: -0.1 }), status: 400, param: "temperature" },
  { name: "temperature a string", body: chat("hi", { temperature: "hot" }), status: 400, param: "temperature", code: "invalid_type" },
  { name: "top_p over 1", body: chat("hi", { top_p: 1.5 }), status: 400, param: "top_p" },
  { name: "max_tokens negative", body: chat("hi", { max_tokens: -1 }), status: 400, param: "max_tokens" },
  { name: "max_tokens fractional", body: chat("hi", { max_tokens: 1.5 }), status: 400, param: "max_tokens" },
  { name: "max_tokens above MAX_OUTPUT_TOKENS", body: chat("hi", { max_tokens: 50_000_000 }), status: 400, param: "max_tokens" },
  { name: "n above MAX_CHOICES", body: chat("hi", { n: 100 }), status: 400, param: "n" },
  { name: "n zero", body: chat("hi", { n: 0 }), status: 400, param: "n" },
  { name: "stream a string", body: chat("hi", { stream: "yes" }), status: 400, param: "stream" },
  { name: "five stop sequences", body: chat("hi", { stop: ["a", "b", "c", "d", "e"] }), status: 400, param: "stop" },
  {
    name: "tool with a bad name",
    body: chat("hi", { tools: [{ type: "function", function: { name: "no spaces allowed" } }] }),
    status: 400,
    param: "tools[0].function.name",
  },
  { name: "unknown response_format", body: chat("hi", { response_format: { type: "xml" } }), status: 400, param: "response_format.type" },
  { name: "JSON nested 100,000 deep", body: deep(100_000), status: 400, code: "invalid_json" },
  { name: "body over MAX_BODY_BYTES", body: chat("x".repeat(LIMIT + 10)), status: 413, code: "body_too_large" },
  // Valid JSON, not valid Unicode: no provider takes it, so it is the client's to mend (it was forwarded, and failed on every model).
  {
    name: "lone surrogates escaped in JSON",
    body: '{"messages":[{"role":"user","content":"\\ud800\\udfff\\ud800"}]}',
    status: 400,
    param: "messages[0].content",
  },
];

const ACCEPTED: { name: string; body: string | Record<string, unknown> }[] = [
  { name: "a one-megabyte string", body: chat("y".repeat(1024 * 1024)) },
  { name: "a megabyte of mixed code and math", body: chat("```ts\nlet x = a^2 + b^2; // prove it\n```\n".repeat(25_000)) },
  { name: "JSON nested 30 deep in a passthrough field", body: deep(30) },
  { name: "__proto__ keys", body: '{"__proto__":{"admin":true},"messages":[{"role":"user","content":"hi","__proto__":null}]}' },
  { name: "NUL and control characters", body: chat("\u0000\u0007\u001b[31m hi") },
];

/**
 * A body over the limit that declares no length is read up to the limit and then answered (413), and the server then
 * closes the connection: sent on a connection of its own, so no later request is sent down one the server has closed.
 */
async function postOverLimit(path: string, init: RequestInit): Promise<Response> {
  const agent = new Agent({ connections: 1 });
  try {
    // undici's own fetch: the Agent belongs to this undici, not to the one inside Node.
    const response = await undiciFetch(`${router.url}${path}`, { ...(init as object), dispatcher: agent });
    const text = await response.text();
    return new Response(text, { status: response.status, headers: Object.fromEntries(response.headers) });
  } finally {
    await agent.close();
  }
}

describe.each(["/v1/route", "/v1/chat/completions"])("bad input to %s", (path) => {
  it.each(CASES)("$name → $status", async ({ body, headers, status, param, code }) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const response =
      text.length > LIMIT
        ? await postHeadersOnly(`${router.url}${path}`, { "content-type": "application/json", ...headers }, text) // refused from its length alone
        : await router.post(path, body, headers);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const { error } = await response.json();
    expect(Object.keys(error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(error.type).toBe("invalid_request_error");
    expect(typeof error.code).toBe("string");
    expect(error.param === null || typeof error.param === "string").toBe(true);
    expect(error.message.length).toBeGreaterThan(5);
    if (param !== undefined) expect(error.param).toBe(param);
    if (code !== undefined) expect(error.code).toBe(code);
  });
});

describe("hostile but valid input", () => {
  it.each(ACCEPTED)("$name is routed, not refused", async ({ body }) => {
    const response = await router.post("/v1/route", body);
    expect(response.status).toBe(200);
    expect((await response.json()).tier).toBeGreaterThanOrEqual(1);
  });

  it("invalid UTF-8 bytes get 400", async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"messages":[{"role":"user","content":"'),
      0xff,
      0xfe,
      0xc3,
      ...new TextEncoder().encode('"}]}'),
    ]);
    const response = await router.fetch("/v1/route", { method: "POST", headers: { "content-type": "application/json" }, body: bytes });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("invalid_encoding");
  });

  it("an oversized body without Content-Length is cut off at the limit with 413", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await postOverLimit("/v1/route", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
  });
});

describe("routes and methods", () => {
  it.each([
    ["GET", "/v1/nothing", 404, "not_found"],
    ["POST", "/v1/completions", 404, "not_found"],
    ["GET", "/v1/chat/completions", 405, "method_not_allowed"],
    ["PUT", "/v1/route", 405, "method_not_allowed"],
    ["DELETE", "/v1/models", 405, "method_not_allowed"],
  ])("%s %s → %i", async (method, path, status, code) => {
    const response = await router.fetch(path, { method });
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    if (status === 405) expect(response.headers.get("allow")).toMatch(/GET|POST/);
  });
});
