/**
 * Property: whatever body and headers a client sends to the keyed routes, the router
 * never answers 5xx, and always answers well-formed JSON (or a well-formed SSE stream).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithFakeProvider } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let clientKey = "";

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "false", MAX_BODY_BYTES: "32768" });
  const made = await stack.router.fetch("/v1/admin/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "property", rpm: 100000, daily_budget_usd: 1000 }),
  });
  clientKey = (await made.json()).key;
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});

const printable = fc.string({ unit: fc.constantFrom(..." !#$%&'()*+,-./0123456789:;<=>?@ABCXYZabcxyz[]^_`{|}~\""), maxLength: 40 });
const role = fc.constantFrom("system", "developer", "user", "assistant", "tool", "function", "robot", "", "__proto__");
const content = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constant(null),
  fc.array(fc.record({ type: fc.constantFrom("text", "image_url", "bogus"), text: fc.string() }), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const message = fc.record(
  { role, content, name: fc.option(fc.string(), { nil: undefined }), tool_call_id: fc.option(fc.string(), { nil: undefined }) },
  { requiredKeys: ["role"] },
);
const chatLike = fc.record(
  {
    model: fc.oneof(
      fc.constantFrom("auto", "tier:1", "tier:3", "tier:5", "tier:9", "groq/llama-3.1-8b-instant", "mistralai/mistral-nemo", ""),
      fc.string({ maxLength: 30 }),
      fc.integer(),
    ),
    messages: fc.oneof(fc.array(message, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
    temperature: fc.oneof(fc.double(), fc.string(), fc.constant(null)),
    max_tokens: fc.oneof(fc.integer(), fc.double(), fc.constant(1e20)),
    n: fc.integer({ min: -2, max: 200 }),
    stream: fc.oneof(fc.boolean(), fc.string()),
    tools: fc.jsonValue({ maxDepth: 3 }),
    response_format: fc.oneof(fc.constant({ type: "json_object" }), fc.jsonValue({ maxDepth: 2 })),
    user: fc.oneof(fc.string(), fc.integer()),
    ["__proto__"]: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 6, arbitrary: chatLike.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.nat({ max: 300 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`) },
);
const headers = fc.record(
  {
    "content-type": fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "",
      "application/x-www-form-urlencoded",
      "APPLICATION/JSON",
    ),
    authorization: fc.oneof(
      printable,
      fc.constant("Bearer "),
      printable.map((s) => `Bearer ${s}`),
      fc.constant("KEY"),
    ),
    "x-constitutional-hash": fc.oneof(fc.constant("cdd01ef066bc6cf2"), printable),
    "cache-control": fc.constantFrom("no-cache", "no-store", "max-age=0", "no-cache, no-store", "garbage", "max-age=abc"),
    "x-tiergate-cache-ttl": fc.oneof(printable, fc.integer().map(String)),
  },
  { requiredKeys: ["content-type"] },
);

describe("any body, any headers", () => {
  it("never gives a 5xx and always answers well-formed JSON (1,000 generated requests)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/v1/chat/completions", "/v1/route"), body, headers, async (path, text, sent) => {
        const resolved = { ...sent };
        if (resolved.authorization === "KEY") resolved.authorization = `Bearer ${clientKey}`;
        const response = await stack.router.fetch(path, { method: "POST", headers: resolved, body: text });
        const answer = await response.text();
        expect(response.status, answer).toBeLessThan(500);
        if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
          for (const line of answer.split("\n").filter((l) => l.startsWith("data: ") && l !== "data: [DONE]")) JSON.parse(line.slice(6));
          return;
        }
        const parsed = JSON.parse(answer);
        expect(typeof parsed).toBe("object");
        if (response.status >= 400) {
          expect(parsed.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
        }
      }),
      { numRuns: 1_000, seed: 20261126 },
    );
  }, 240_000);
});
