/**
 * Content blocks of a known type with wrong fields, on `POST /v1/messages` (issue 36, item 3):
 * each a 400 in Anthropic's error body naming the field, never a 5xx (which counted in the
 * rollout's 5xx rate), and never forwarded broken (an image of no URL, a `[object Object].pdf`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithFakeProvider } from "../support/router.ts";

let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
beforeAll(async () => (app = await startWithFakeProvider()));
afterAll(() => app.close());

const PDF = "JVBERi0xLjQK";
const CASES: { name: string; role?: "user" | "assistant"; block: unknown; field: string }[] = [
  { name: "text with no text", block: { type: "text" }, field: "messages[0].content[0].text" },
  { name: "text that is a number", block: { type: "text", text: 5 }, field: "messages[0].content[0].text" },
  { name: "tool_use with no id", role: "assistant", block: { type: "tool_use", name: "f", input: {} }, field: "messages[0].content[0].id" },
  {
    name: "tool_result whose content is an object",
    block: { type: "tool_result", tool_use_id: "t", content: { a: 1 } },
    field: "messages[0].content[0].content",
  },
  {
    name: "tool_result holding a tool_use block",
    block: { type: "tool_result", tool_use_id: "t", content: [{ type: "tool_use", id: "x", name: "f", input: {} }] },
    field: "messages[0].content[0].content[0].type",
  },
  { name: "image with no source", block: { type: "image" }, field: "messages[0].content[0].source" },
  { name: "image whose source is a file", block: { type: "image", source: { type: "file", file_id: "file_1" } }, field: "messages[0].content[0].source.type" },
  {
    name: "empty base64 image",
    block: { type: "image", source: { type: "base64", media_type: "image/png", data: "" } },
    field: "messages[0].content[0].source.data",
  },
  {
    name: "document whose title is an object",
    block: { type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF }, title: { a: 1 } },
    field: "messages[0].content[0].title",
  },
];

describe("malformed content blocks on /v1/messages", () => {
  for (const { name, role = "user", block, field } of CASES) {
    it(`${name}: 400 naming ${field}`, async () => {
      const response = await app.router.fetch("/v1/messages", {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "auto", max_tokens: 16, messages: [{ role, content: [block] }] }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe("error");
      expect(body.error.type).toBe("invalid_request_error");
      expect(body.error.message).toContain(`'${field}'`);
    });
  }
});

describe("what the surface drops, named in a header", () => {
  it("names a field the client sent, whatever its characters, as a header can carry it", async () => {
    const response = await app.router.fetch("/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "auto", max_tokens: 16, messages: [{ role: "user", content: "hi" }], "naïve\u0000field": 1 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-dropped")).toBe("na?ve?field");
  });
});
