/** A provider's errors as the client sees them: its own words where they help, never its internals or any secret. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";

// A careless operator's short provider key: it must be redacted whatever its length.
const SHORT_KEY = "k1";
const ADMIN_KEY = "provider-errors-admin-0123456789";
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

beforeAll(async () => {
  stack = await startWithFakeProvider({ ADMIN_API_KEY: ADMIN_KEY }, SHORT_KEY);
  ({ fake, router } = stack);
});
afterAll(() => stack.close());
beforeEach(() => stack.reset());

const ask = () => router.post("/v1/chat/completions", chat(uniquePrompt(), { model: "tier:2" }));

describe("what a provider's error text may carry to the client", () => {
  it("drops a traceback, file paths, masked key tails and the key itself, however short", async () => {
    fake.behaviour.errorStatus = 500;
    fake.behaviour.errorMessage = [
      `upstream failed: you sent authorization 'Bearer ${SHORT_KEY}' (key sk-****wxyz, admin ${ADMIN_KEY})`,
      "Traceback (most recent call last):",
      '  File "/srv/llm/app/handlers.py", line 88, in complete',
      "KeyError: 'choices'",
    ].join("\n");
    const response = await ask();
    expect(response.status).toBe(502);
    const { error } = await response.json();
    expect(error.type).toBe("upstream_error");
    expect(error.message).toMatch(/^Provider \w+ answered 500: upstream failed/);
    for (const leak of [SHORT_KEY, ADMIN_KEY, "wxyz", "/srv/llm", "handlers.py", "Traceback", "KeyError"]) {
      expect(error.message, leak).not.toContain(leak);
    }
  });

  it("drops a path from a single-line message too", async () => {
    fake.behaviour.errorStatus = 503;
    fake.behaviour.errorMessage = "model server at /opt/vllm/serve.py is overloaded";
    const { error } = await (await ask()).json();
    expect(error.message).toContain("is overloaded");
    expect(error.message).not.toContain("/opt/vllm");
  });
});

describe("errors the client caused upstream", () => {
  for (const status of [400, 404, 413, 422]) {
    it(`passes a provider ${status} back as ${status} with the provider's sanitised message`, async () => {
      fake.behaviour.errorStatus = status;
      fake.behaviour.errorMessage = `This model's maximum context length is 8192 tokens (status ${status}) at /srv/x.py`;
      const response = await ask();
      expect(response.status).toBe(status);
      const { error } = await response.json();
      expect(error).toMatchObject({ type: "invalid_request_error", code: "upstream_invalid_request" });
      expect(error.message).toContain("maximum context length is 8192 tokens");
      expect(error.message).not.toContain("/srv/x.py");
    });
  }

  it("keeps a provider 401 (the router's own credentials) a 502: the client cannot fix it", async () => {
    fake.behaviour.errorStatus = 401;
    fake.behaviour.errorMessage = `Incorrect API key provided: ${SHORT_KEY}`;
    const response = await ask();
    expect(response.status).toBe(502);
    expect((await response.json()).error.message).not.toContain(SHORT_KEY);
  });
});
