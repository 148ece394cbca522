/**
 * A client that hangs up after its request went out, before any answer: the provider has
 * the prompt and bills it, so the request is charged it. Run in Node against the fake
 * provider, through the engine itself: Miniflare's entry worker does not pass a client's
 * hang-up on to the worker before its answer begins (docs/api.md, Errors).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { parseConfig } from "../../src/config/env.ts";
import { runChat } from "../../src/engine/chat.ts";
import { costMicros } from "../../src/routing/registry.ts";
import { buildServices } from "../../src/services/index.ts";

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await startFakeUpstream();
});
afterAll(async () => {
  await fake.close();
});

describe("a hang-up before the answer", () => {
  it.each([false, true])("is charged the prompt it sent (stream: %s)", async (stream) => {
    const services = buildServices(
      parseConfig({ OPENROUTER_BASE_URL: fake.url, OPENROUTER_API_KEY: "k-0123456789", GROQ_BASE_URL: fake.url, GROQ_API_KEY: "k-0123456789" }),
    );
    fake.behaviour.latencyMs = 1_000;
    const client = new AbortController();
    setTimeout(() => client.abort(), 150);
    const request = { model: "tier:2", stream, messages: [{ role: "user" as const, content: "Summarise the quarterly report in three bullet points." }] };
    const outcome = await runChat(services, { request, caller: undefined, headers: new Headers(), signal: client.signal, defer: () => {} });
    expect(outcome.error?.code).toBe("client_disconnected");
    expect(outcome.attempts.at(-1)?.outcome).toBe("client_disconnected");
    const ending = await outcome.ending;
    expect(outcome.pricedAs?.id).toBe(outcome.attempts.at(-1)?.model);
    expect(ending.usage).toMatchObject({ promptTokens: outcome.decision!.promptTokens, completionTokens: 0 });
    expect(ending.costMicros).toBe(costMicros(outcome.pricedAs!, outcome.decision!.promptTokens, 0));
    expect(ending.costMicros).toBeGreaterThan(0);
  });
});
