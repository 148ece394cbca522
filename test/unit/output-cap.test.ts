/** Capping an answer to what a budget can still pay, and what a reservation holds. */
import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { capToBudget, capToTokens, LEAST_CAPPED_OUTPUT } from "../../src/engine/output-cap.ts";
import { reservationMicros } from "../../src/engine/plan.ts";
import { reserveMicros, usageMicros } from "../../src/routing/cost.ts";
import { decide } from "../../src/routing/decide.ts";
import { costMicros } from "../../src/routing/registry.ts";
import { testModel } from "../support/models.ts";

const config = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x" });
// Tier 4's cheapest writes an answer at a whole number of micro-dollars a token, so one token
// more than the cap always costs more than the room (below a micro-dollar a token, it may not).
const ask = (extra: Partial<CanonicalRequest>): CanonicalRequest =>
  ({ model: "tier:4", messages: [{ role: "user", content: "write me a long story" }], max_tokens: 32_000, ...extra }) as CanonicalRequest;

describe("capToBudget", () => {
  it("caps at the most the room pays, prompt included, never a micro-dollar more", () => {
    const request = ask({});
    const decision = decide(request, config);
    expect(Number.isInteger(decision.model.output_usd_per_mtok), decision.model.id).toBe(true);
    for (const tokens of [300, 1_000, 7_777, 31_000]) {
      const room = costMicros(decision.model, decision.promptTokens, tokens) + 1;
      const capped = capToBudget(decision, request, room)!;
      expect(costMicros(decision.model, decision.promptTokens, capped.cap)).toBeLessThanOrEqual(room);
      expect(costMicros(decision.model, decision.promptTokens, capped.cap + 1)).toBeGreaterThan(room);
      expect(capped.sent.max_tokens).toBe(capped.cap);
      expect(capped.decision.outputTokens).toBe(capped.cap);
      expect(capped.decision.reasons.at(-1)).toBe(`max_tokens 32000 capped at ${capped.cap}: what the budget can still pay`);
    }
  });

  it("shares the cap among n choices, and lowers max_completion_tokens too", () => {
    const request = ask({ n: 2, max_completion_tokens: 32_000 });
    const decision = decide(request, config);
    const room = costMicros(decision.model, decision.promptTokens, 10_000);
    const capped = capToBudget(decision, request, room)!;
    expect(capped.cap).toBeLessThanOrEqual(5_000);
    expect(capped.cap).toBeGreaterThan(4_900);
    expect(capped.sent).toMatchObject({ max_tokens: capped.cap, max_completion_tokens: capped.cap });
    expect(costMicros(decision.model, decision.promptTokens, 2 * capped.cap)).toBeLessThanOrEqual(room);
  });

  it("sends no cap below LEAST_CAPPED_OUTPUT tokens, nor one that would not lower what was asked", () => {
    const request = ask({});
    const decision = decide(request, config);
    expect(capToBudget(decision, request, costMicros(decision.model, decision.promptTokens, LEAST_CAPPED_OUTPUT - 1))).toBeUndefined();
    expect(capToBudget(decision, request, costMicros(decision.model, decision.promptTokens, LEAST_CAPPED_OUTPUT))?.cap).toBe(LEAST_CAPPED_OUTPUT);
    expect(capToBudget(decision, request, costMicros(decision.model, decision.promptTokens, 40_000))).toBeUndefined();
  });
});

describe("capToTokens", () => {
  it("lowers max_tokens so the prompt and the answer fit the key's tokens per minute", () => {
    const request = ask({ n: 2 });
    const decision = decide(request, config);
    const tpm = decision.promptTokens + 9_001;
    const capped = capToTokens(decision, request, tpm)!;
    expect(capped.cap).toBe(4_500);
    expect(capped.by).toBe("tpm");
    expect(capped.decision.estimatedTokens).toBeLessThanOrEqual(tpm);
    expect(capped.sent.max_tokens).toBe(4_500);
    expect(capped.decision.reasons.at(-1)).toBe("max_tokens 32000 capped at 4500: what the key's tokens per minute can take");
  });

  it("leaves a request that fits, a key without the limit, and a prompt that leaves too little room", () => {
    const request = ask({});
    const decision = decide(request, config);
    expect(capToTokens(decision, request, null)).toBeUndefined();
    expect(capToTokens(decision, request, decision.estimatedTokens)).toBeUndefined();
    expect(capToTokens(decision, request, decision.promptTokens + LEAST_CAPPED_OUTPUT - 1)).toBeUndefined();
    expect(capToTokens(decision, request, decision.promptTokens + LEAST_CAPPED_OUTPUT)?.cap).toBe(LEAST_CAPPED_OUTPUT);
  });
});

describe("capToBudget: the prompt at its dearest class", () => {
  // Claude Sonnet's prices: a 5-minute write 1.25× input, a 1-hour write 2×.
  const sonnet = testModel("sonnet", 3, 3, {
    output_usd_per_mtok: 15,
    cache_read_usd_per_mtok: 0.3,
    cache_write_usd_per_mtok: 3.75,
    cache_write_1h_usd_per_mtok: 6,
  });
  const request = ask({});
  const decision = { ...decide(request, config), model: sonnet };
  const hour = ask({
    messages: [{ role: "user", content: [{ type: "text", text: "write me a long story", cache_control: { type: "ephemeral", ttl: "1h" } }] }],
  } as never);

  it("leaves room for the whole prompt written to the cache, for an hour when asked", () => {
    for (const [sent, lifetime] of [
      [request, "5m"],
      [hour, "1h"],
    ] as const) {
      const room = 20_000;
      const capped = capToBudget(decision, sent, room)!;
      const charged = (output: number, write: "cacheWriteTokens" | "cacheWrite1hTokens") =>
        usageMicros(sonnet, { promptTokens: decision.promptTokens, [write]: decision.promptTokens, completionTokens: output });
      const write = lifetime === "1h" ? "cacheWrite1hTokens" : "cacheWriteTokens";
      expect(charged(capped.cap, write)).toBeLessThanOrEqual(room);
      expect(reserveMicros(sonnet, decision.promptTokens, capped.cap + 1, lifetime)).toBeGreaterThan(room);
    }
    expect(capToBudget(decision, hour, 20_000)!.cap).toBeLessThan(capToBudget(decision, request, 20_000)!.cap);
  });
});

describe("reservationMicros", () => {
  const sonnet = testModel("sonnet", 3, 3, { output_usd_per_mtok: 15, cache_write_usd_per_mtok: 3.75, cache_write_1h_usd_per_mtok: 6 });
  const cheap = testModel("cheap", 3, 1);

  it("is the dearest model of the plan, its prompt priced as a cache write", () => {
    const request = ask({ max_tokens: 1_000 });
    const decision = { ...decide(request, config), model: cheap, outputTokens: 1_000 };
    const expected = Math.ceil(decision.promptTokens * 3.75 + 1_000 * 15);
    expect(reservationMicros([cheap, sonnet], decision, request)).toBe(expected);
    expect(reservationMicros([cheap], decision, request)).toBe(decision.promptTokens + 1_000);
  });
});
