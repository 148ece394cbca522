/**
 * A provider's answer whose `tool_calls` are not a list of functions (issue 36, item 3):
 * as JSON, a 502 upstream_bad_response on every surface, as a bad `choices` is, never a
 * 500 thrown while rendering; in a stream, the malformed delta is left out and the stream
 * ends as its surface ends one.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startWithFakeProvider } from "../support/router.ts";

let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
beforeAll(async () => (app = await startWithFakeProvider()));
afterAll(() => app.close());
beforeEach(() => app.reset());

const SURFACES = {
  chat: {
    path: "/v1/chat/completions",
    body: (stream: boolean) => ({ model: "tier:2", messages: [{ role: "user", content: "hi there" }], stream }),
    end: "data: [DONE]",
  },
  messages: {
    path: "/v1/messages",
    body: (stream: boolean) => ({ model: "tier:2", max_tokens: 64, messages: [{ role: "user", content: "hi there" }], stream }),
    end: "event: message_stop",
  },
  responses: {
    path: "/v1/responses",
    body: (stream: boolean) => ({ model: "tier:2", input: "hi there", stream, store: false }),
    end: "event: response.completed",
  },
};
const BAD = { "an object": { name: "f" }, "a call with function null": [{ id: "c1", type: "function", function: null }], "a string": "call f" };

describe("tool_calls that are not a list of functions", () => {
  for (const [surface, { path, body, end }] of Object.entries(SURFACES)) {
    for (const [shape, calls] of Object.entries(BAD)) {
      it(`${surface}, ${shape}: a 502 as JSON, a stream that ends well`, async () => {
        app.fake.behaviour.toolCalls = calls;
        const headers = { "content-type": "application/json", "cache-control": "no-store", "anthropic-version": "2023-06-01" };
        const json = await app.router.fetch(path, { method: "POST", headers, body: JSON.stringify(body(false)) });
        expect(json.status).toBe(502);
        expect(await json.text()).toContain("tool calls that are not a list of functions");
        const stream = await app.router.fetch(path, { method: "POST", headers, body: JSON.stringify(body(true)) });
        expect(stream.status).toBe(200);
        const text = await stream.text();
        expect(text).toContain(end);
        expect(text).not.toMatch(/internal|TypeError/i);
      });
    }
  }
});
