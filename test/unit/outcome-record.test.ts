/** The audit record made from an outcome: what a refusal, a hit and an unchecked limit leave in it. */
import { describe, expect, it } from "vitest";
import { type RequestFacts, recordOf } from "../../src/audit/outcome-record.ts";
import { createAuditSigner } from "../../src/audit/record.ts";
import { parseConfig } from "../../src/config/env.ts";
import { NO_ENDING, stoppedAt } from "../../src/engine/outcome.ts";
import { ApiError } from "../../src/http/errors.ts";
import { decide } from "../../src/routing/decide.ts";

const config = parseConfig({ OPENROUTER_API_KEY: "k", GROQ_API_KEY: "k" });
const request = { model: "auto", messages: [{ role: "user" as const, content: "What is the capital of France?" }] };
const decision = decide(request, config);
const facts: RequestFacts = {
  requestId: "00000000-0000-4000-8000-000000000000",
  startedAt: 1_000,
  endedAt: 1_250,
  seq: undefined,
  caller: undefined,
  requestLimit: undefined,
  status: 200,
  errorCode: null,
  surface: "chat_completions",
  bodyDigest: Promise.resolve("ab".repeat(32)),
};

describe("recordOf", () => {
  it("keeps what a failed request decided: its route, features and request digest, and no cost", async () => {
    const outcome = stoppedAt(request, decision, new ApiError(503, "x", { code: "provider_not_configured" }));
    const record = await recordOf({ ...facts, status: 503, errorCode: "provider_not_configured" }, outcome, NO_ENDING, createAuditSigner("k".repeat(32)));
    expect(record).toMatchObject({ model: decision.model.id, tier: decision.tier, http_status: 503, error_code: "provider_not_configured", cost_usd: null });
    expect(record.features).toHaveLength(decision.vector.length);
    expect(record.request_hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(record.latency_ms).toBe(250);
  });

  it("records a hit at nothing, and an answer at what it was charged, in whole micro-dollars", async () => {
    const usage = { promptTokens: 1_000, completionTokens: 333 };
    const hit = await recordOf(facts, { ...stoppedAt(request, decision), cache: "HIT" }, { ...NO_ENDING, usage, costMicros: 7 }, undefined);
    expect(hit.cost_usd).toBe(0);
    const served = await recordOf(facts, { ...stoppedAt(request, decision), pricedAs: decision.model }, { ...NO_ENDING, usage, costMicros: 42 }, undefined);
    expect(served).toMatchObject({ cost_usd: 0.000042, prompt_tokens: 1_000, completion_tokens: 333 });
  });

  it("keeps every usage class, 0 for a class the answer had none of, and none without usage", async () => {
    const usage = { promptTokens: 50_000, completionTokens: 700, cacheReadTokens: 48_000, cacheWrite1hTokens: 1_500, reasoningTokens: 200 };
    const served = await recordOf(facts, { ...stoppedAt(request, decision), pricedAs: decision.model }, { ...NO_ENDING, usage, costMicros: 42 }, undefined);
    expect(served).toMatchObject({
      prompt_tokens: 50_000,
      cache_read_tokens: 48_000,
      cache_write_tokens: 0,
      cache_write_1h_tokens: 1_500,
      reasoning_tokens: 200,
    });
    const refused = await recordOf(facts, stoppedAt(request, decision), NO_ENDING, undefined);
    expect(refused).not.toHaveProperty("cache_read_tokens");
  });

  it("notes every limit that went unchecked", async () => {
    const bothUnchecked = {
      ...stoppedAt(request, decision),
      settlement: { caller: undefined as never, tokens: 0, spend: undefined, tokenLimit: { checked: false as const }, refusal: undefined },
    };
    const record = await recordOf({ ...facts, requestLimit: { checked: false } }, bothUnchecked, NO_ENDING, undefined);
    expect(record.limit_note).toBe("requests and tokens per minute unchecked: Redis unavailable (limits fail open)");
    expect((await recordOf(facts, stoppedAt(request, decision), NO_ENDING, undefined)).limit_note).toBeUndefined();
  });
});
