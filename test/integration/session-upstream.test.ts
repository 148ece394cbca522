/** The session's digest reaches the provider's adapter (BodyOptions.sessionKey), for it to send as the provider's cache key. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import type { Provider } from "../../src/config/providers.ts";
import { openAiCompatible } from "../../src/providers/openai-compatible/index.ts";
import { callUpstream, type UpstreamRequest } from "../../src/providers/upstream.ts";

let fake: FakeUpstream;
const provider = (): Provider => ({
  id: "fake",
  api: "openai-compatible",
  baseUrl: fake.url,
  apiKey: "sk-test-0123456789",
  configureWith: "X",
  configured: true,
});
const request = (extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
  provider: provider(),
  request: { model: "auto", messages: [{ role: "user", content: "hello" }] },
  upstreamModel: "m",
  stream: false,
  clientWantsUsage: false,
  timeoutMs: 2_000,
  secrets: [],
  ...extra,
});

beforeAll(async () => (fake = await startFakeUpstream()));
afterAll(() => fake.close());

describe("the session key on a provider call", () => {
  it("is handed to the adapter's body with the stream flag, and left out when there is none", async () => {
    const body = vi.spyOn(openAiCompatible, "body");
    try {
      await callUpstream(request({ sessionKey: "0123456789abcdef0123456789abcdef" }));
      expect(body).toHaveBeenLastCalledWith(expect.anything(), "m", { stream: false, sessionKey: "0123456789abcdef0123456789abcdef" });
      await callUpstream(request());
      expect(body).toHaveBeenLastCalledWith(expect.anything(), "m", { stream: false });
    } finally {
      body.mockRestore();
    }
  });
});
