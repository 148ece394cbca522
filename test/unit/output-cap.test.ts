import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { capToBudget, LEAST_CAPPED_OUTPUT } from "../../src/engine/output-cap.ts";
import { decide } from "../../src/routing/decide.ts";
import { costMicros } from "../../src/routing/registry.ts";

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
