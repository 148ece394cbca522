import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { capToBudget, capToTokens, LEAST_CAPPED_OUTPUT } from "../../src/engine/output-cap.ts";
import { decide } from "../../src/routing/decide.ts";
import { costMicros } from "../../src/routing/registry.ts";

const config = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x" });
const ask = (extra: Partial<CanonicalRequest>): CanonicalRequest =>
  ({ model: "tier:3", messages: [{ role: "user", content: "write me a long story" }], max_tokens: 32_000, ...extra }) as CanonicalRequest;

describe("capToBudget", () => {
  it("caps at the most the room pays, prompt included, never a micro-dollar more", () => {
    const request = ask({});
    const decision = decide(request, config);
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
