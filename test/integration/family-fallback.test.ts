/**
 * Issue 38: with Anthropic down, a Claude request is answered by the same model at another
 * provider (Bedrock's) before any other model. OpenRouter, Anthropic and Bedrock all point at
 * the one fake (Bedrock's half checks every SigV4 signature); Anthropic's half answers its
 * overload (529 `overloaded_error`) for Claude Sonnet 5; the clients are the real
 * `@anthropic-ai/sdk` and `openai`, and the audit row says in which order models were tried.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { fakeNativeProviders } from "../../scripts/local/fake-native.ts";
import { makeKey } from "../support/clients.ts";
import { fakeProviders, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";
import { auditRows } from "../support/storage.ts";

const ANTHROPIC = "anthropic/claude-sonnet-5";
const BEDROCK = "bedrock/claude-sonnet-5";
/** Another family at tier 4, cheaper than Bedrock's Sonnet 5: ranked by price alone, it would be tried before Bedrock. */
const OTHER = "openrouter/openai/gpt-6-sol";

const env = useFakeStack({
  providers: (fake) => ({ ...fakeProviders(fake.url), ...fakeNativeProviders(fake, ["anthropic", "bedrock"], { key: "sk-ant-test-0123456789" }) }),
  // Anthropic fails on purpose in every test: no circuit opens on it, so each test's plan starts with it.
  bindings: { BREAKER_FAILURES: "0", REQUIRE_API_KEY: "false" },
  // Anthropic down: its API answers 529 for Sonnet 5 (only its half: the fake's other halves serve other ids).
  behaviour: { errorStatus: 529, failModels: ["claude-sonnet-5"], errorMessage: "Overloaded" },
});
/** Clients of a key that may use Anthropic's and Bedrock's Sonnet 5 and another family's model, so that a tier-4 pick is Claude. */
let claudeKey: { anthropic: Anthropic; openai: OpenAI };
let anyModel: Anthropic;

beforeAll(async () => {
  const { key } = await makeKey(env.router, env.storage, { name: "claude-first", models: [ANTHROPIC, BEDROCK, OTHER], rpm: 10_000 });
  claudeKey = {
    anthropic: new Anthropic({ baseURL: env.router.url, apiKey: key, maxRetries: 0 }),
    openai: new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: key, maxRetries: 0 }),
  };
  anyModel = new Anthropic({ baseURL: env.router.url, apiKey: "unused-by-the-router-here", maxRetries: 0 });
});

/** The request's audit row, once flushed. */
async function rowFor(requestId: string | null): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await env.router.scheduled();
    const row = (await auditRows(env.storage.db)).find((r) => r.request_id === requestId);
    if (row !== undefined) return row;
    if (Date.now() > deadline) throw new Error(`no audit row for ${requestId}`);
  }
}

/** Which provider each call went to, in order, as the fake saw them. */
const calls = () =>
  env.fake.seen.map((seen) => (seen.path.startsWith("/model/") ? "bedrock" : seen.path === "/v1/messages" ? "anthropic" : `other:${String(seen.body.model)}`));

describe("with Anthropic down", () => {
  it("answers a Messages request naming Anthropic's Claude with Bedrock's, after Anthropic's own retries", async () => {
    const { data, response } = await claudeKey.anthropic.messages
      .create({ model: ANTHROPIC, max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Say hi") }] })
      .withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe(BEDROCK);
    expect(data.content).toEqual([{ type: "text", text: "Fake token1 token2 token3 token4 token5 token6 token7" }]);
    const tried = calls();
    expect(tried.at(-1)).toBe("bedrock");
    expect(new Set(tried.slice(0, -1))).toEqual(new Set(["anthropic"]));
    const row = await rowFor(response.headers.get("x-request-id"));
    expect(row.fallbacks_tried).toEqual([ANTHROPIC, BEDROCK]);
    expect(row.model).toBe(BEDROCK);
    const attempts = row.attempts as { model: string; outcome: string }[];
    expect(attempts.at(-1)).toMatchObject({ model: BEDROCK, outcome: "ok" });
    expect(attempts.slice(0, -1).every((attempt) => attempt.model === ANTHROPIC && attempt.outcome !== "ok")).toBe(true);
  });

  it("answers a routed request whose pick is Anthropic's Claude with Bedrock's, before the cheaper model of another family", async () => {
    const plan = (await (
      await env.router.post(
        "/v1/route",
        { model: "tier:4", messages: [{ role: "user", content: "Explain the plan" }] },
        { authorization: `Bearer ${claudeKey.openai.apiKey}` },
      )
    ).json()) as { model: string; fallbacks: { model: string }[] };
    // What makes this test worth having: by price alone the other family comes before Bedrock's Claude.
    expect(plan.model).toBe(ANTHROPIC);
    expect(plan.fallbacks.map((fallback) => fallback.model)).toEqual([BEDROCK, OTHER]);
    const { data, response } = await claudeKey.openai.chat.completions
      .create({ model: "tier:4", messages: [{ role: "user", content: uniquePrompt("Explain the plan") }] })
      .withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe(BEDROCK);
    expect(data.choices[0]!.message.content).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect(calls()).not.toContain("other:openai/gpt-6-sol");
    const row = await rowFor(response.headers.get("x-request-id"));
    expect(row.fallbacks_tried).toEqual([ANTHROPIC, BEDROCK]);
  });

  it("streams the routed answer from Bedrock too, the client seeing nothing of Anthropic's failure", async () => {
    const stream = await claudeKey.openai.chat.completions
      .create({ model: "tier:4", messages: [{ role: "user", content: uniquePrompt("Stream the plan") }], stream: true })
      .withResponse();
    expect(stream.response.headers.get("x-tiergate-model")).toBe(BEDROCK);
    let text = "";
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Fake token1 token2 token3 token4 token5 token6 token7");
    expect((await rowFor(stream.response.headers.get("x-request-id"))).fallbacks_tried).toEqual([ANTHROPIC, BEDROCK]);
  });

  it("for a key that may use every model, still answers within the family: OpenRouter's Claude first (as cheap, listed first), never another model", async () => {
    const { response } = await anyModel.messages
      .create({ model: ANTHROPIC, max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Say hi") }] })
      .withResponse();
    expect(response.headers.get("x-tiergate-model")).toBe("openrouter/anthropic/claude-sonnet-5");
    expect((await rowFor(response.headers.get("x-request-id"))).fallbacks_tried).toEqual([ANTHROPIC, "openrouter/anthropic/claude-sonnet-5"]);
    // And with OpenRouter's route to Claude failing too, Bedrock's: the family is exhausted before anything else.
    env.fake.behaviour = { ...env.fake.behaviour, failModels: ["claude-sonnet-5", "anthropic/claude-sonnet-5"] };
    const second = await anyModel.messages
      .create({ model: ANTHROPIC, max_tokens: 64, messages: [{ role: "user", content: uniquePrompt("Say hi") }] })
      .withResponse();
    expect(second.response.headers.get("x-tiergate-model")).toBe(BEDROCK);
    expect((await rowFor(second.response.headers.get("x-request-id"))).fallbacks_tried).toEqual([ANTHROPIC, "openrouter/anthropic/claude-sonnet-5", BEDROCK]);
  });
});
