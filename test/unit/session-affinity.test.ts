import { describe, expect, it } from "vitest";
import type { CanonicalRequest, Message } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { chooseAffinity, REGRET_MARGIN, type RememberedSession, regretGate, type SessionView } from "../../src/routing/affinity.ts";
import { decide } from "../../src/routing/decide.ts";
import { NO_HEALTH } from "../../src/routing/pick.ts";
import { testModel } from "../support/models.ts";

// Prices per million tokens, as Anthropic's Sonnet and Haiku list them (read 0.1×, 5-minute write 1.25× the input price).
const sonnet = testModel("sonnet", 4, 3, {
  output_usd_per_mtok: 15,
  cache_read_usd_per_mtok: 0.3,
  cache_write_usd_per_mtok: 3.75,
  cache_write_1h_usd_per_mtok: 6,
});
const haiku = testModel("haiku", 2, 1, {
  output_usd_per_mtok: 5,
  cache_read_usd_per_mtok: 0.1,
  cache_write_usd_per_mtok: 1.25,
  cache_write_1h_usd_per_mtok: 2,
});
const nano = testModel("nano", 1, 0.1, { output_usd_per_mtok: 0.4, cache_read_usd_per_mtok: 0.025, cache_write_usd_per_mtok: 0.1 });

describe("the cache-regret gate, in numbers", () => {
  it("keeps a warm 60k-token session on Sonnet rather than write it all again on Haiku", () => {
    const gate = regretGate(sonnet, haiku, { promptTokens: 60_000, cachedTokens: 58_000, outputTokens: 1_000 });
    // Staying: 58,000 × $0.30 + 2,000 × $3 + 1,000 × $15 = $0.0384; moving: 60,000 × $1.25 + 1,000 × $5 = $0.08.
    expect(gate.stay.usd).toBeCloseTo(0.0384, 10);
    expect(gate.move.usd).toBeCloseTo(0.08, 10);
    expect(gate.pays).toBe(false);
  });

  it("moves when the new model is cheaper by more than the margin, and not when by less", () => {
    // Staying as above, $0.0384; at 0.2 below it, a move must cost under $0.03072.
    const at = (writePrice: number) =>
      regretGate(sonnet, testModel("x", 1, 0, { cache_write_usd_per_mtok: writePrice, output_usd_per_mtok: 0 }), {
        promptTokens: 60_000,
        cachedTokens: 58_000,
        outputTokens: 1_000,
      });
    expect(REGRET_MARGIN).toBe(0.2);
    expect(at(0.5).move.usd).toBeCloseTo(0.03, 10);
    expect(at(0.5).pays).toBe(true);
    expect(at(0.52).move.usd).toBeCloseTo(0.0312, 10);
    expect(at(0.52).pays).toBe(false);
    expect(regretGate(sonnet, nano, { promptTokens: 60_000, cachedTokens: 58_000, outputTokens: 1_000 }).pays).toBe(true);
  });

  it("counts no more cached than the prompt holds, and a cold session's whole prompt at the input price", () => {
    const shrunk = regretGate(sonnet, haiku, { promptTokens: 10_000, cachedTokens: 58_000, outputTokens: 0 });
    expect(shrunk.stay.usd).toBeCloseTo(0.003, 10); // 10,000 × $0.30
    const cold = regretGate(sonnet, haiku, { promptTokens: 60_000, cachedTokens: 0, outputTokens: 1_000 });
    expect(cold.stay.usd).toBeCloseTo(0.195, 10); // 60,000 × $3 + 1,000 × $15
    expect(cold.pays).toBe(true);
  });
});

describe("the affinity rules", () => {
  const now = 1_000_000;
  const warmOn = (model: string, tier: 1 | 2 | 3 | 4 | 5, cacheUntil = now + 60_000): RememberedSession => ({ model, tier, cacheUntil, promptTokens: 58_000 });
  const view = (remembered: RememberedSession | undefined, continuation: boolean): SessionView => ({
    remembered,
    steers: true,
    continuation,
    now,
  });
  const tokens = { promptTokens: 60_000, outputTokens: 1_000 };

  it("keeps a tool-result continuation on the session's model whatever the score picks", () => {
    const choice = chooseAffinity({ view: view(warmOn("sonnet", 4), true), pick: { model: nano, tier: 1 }, warm: sonnet, unfit: undefined, tokens });
    expect(choice).toMatchObject({ keep: sonnet, affinity: "kept" });
    expect(choice.reason).toMatch(/tool-result continuation/);
  });

  it("keeps a continuation even on a cold cache, but never on a model that cannot serve it", () => {
    expect(
      chooseAffinity({ view: view(warmOn("sonnet", 4, now - 1), true), pick: { model: nano, tier: 1 }, warm: sonnet, unfit: undefined, tokens }).keep,
    ).toBe(sonnet);
    const unfit = chooseAffinity({
      view: view(warmOn("sonnet", 4), true),
      pick: { model: nano, tier: 1 },
      warm: sonnet,
      unfit: "is not taking requests (circuit open)",
      tokens,
    });
    expect(unfit).toMatchObject({ keep: undefined, affinity: "moved" });
    expect(unfit.reason).toMatch(/circuit open/);
  });

  it("moves a harder user turn up, always", () => {
    const choice = chooseAffinity({ view: view(warmOn("haiku", 2), false), pick: { model: sonnet, tier: 4 }, warm: haiku, unfit: undefined, tokens });
    expect(choice).toMatchObject({ keep: undefined, affinity: "moved" });
    expect(choice.reason).toMatch(/harder user turn: tier 4 is above the session's tier 2/);
  });

  it("moves an easier user turn only when the gate says it pays, or the cache has gone cold", () => {
    const warm = view(warmOn("sonnet", 4), false);
    expect(chooseAffinity({ view: warm, pick: { model: haiku, tier: 2 }, warm: sonnet, unfit: undefined, tokens })).toMatchObject({
      keep: sonnet,
      affinity: "kept",
    });
    expect(chooseAffinity({ view: warm, pick: { model: nano, tier: 1 }, warm: sonnet, unfit: undefined, tokens })).toMatchObject({
      keep: undefined,
      affinity: "moved",
    });
    const cold = view(warmOn("sonnet", 4, now), false);
    expect(chooseAffinity({ view: cold, pick: { model: haiku, tier: 2 }, warm: sonnet, unfit: undefined, tokens }).affinity).toBe("moved");
  });

  it("is new for a session it has not seen, and moved when the session's model left the registry", () => {
    expect(chooseAffinity({ view: view(undefined, true), pick: { model: nano, tier: 1 }, warm: undefined, unfit: undefined, tokens }).affinity).toBe("new");
    expect(chooseAffinity({ view: view(warmOn("gone", 3), true), pick: { model: nano, tier: 1 }, warm: undefined, unfit: undefined, tokens }).affinity).toBe(
      "moved",
    );
  });
});

describe("a decision in a session", () => {
  const registry = [nano, haiku, testModel("haiku-b", 2, 2), sonnet, testModel("sonnet-b", 4, 4), testModel("opus", 5, 15, { output_usd_per_mtok: 75 })].map(
    (m) => ({
      ...m,
      context_window: 200_000,
    }),
  );
  const config = parseConfig({ GROQ_API_KEY: "gsk_x", MODELS_JSON: JSON.stringify(registry) });
  const now = Date.now();
  const on = (model: string, tier: 1 | 2 | 3 | 4 | 5, cacheUntil = now + 300_000): RememberedSession => ({ model, tier, cacheUntil, promptTokens: 40 });
  const session = (remembered: RememberedSession | undefined, continuation: boolean, steers = true): SessionView => ({
    remembered,
    steers,
    continuation,
    now,
  });
  const call = { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "ls", arguments: "{}" } }] } as Message;
  const continuation = {
    model: "auto",
    messages: [{ role: "user", content: "list the files" }, call, { role: "tool", tool_call_id: "t1", content: "a.ts" }],
  } as CanonicalRequest;
  const hard = {
    model: "auto",
    messages: [
      {
        role: "user",
        content:
          "Prove that there are infinitely many primes of the form 4k+3, step by step, with a rigorous derivation, and then design a distributed consensus algorithm tolerant to byzantine faults with formal proof of safety and liveness.",
      },
    ],
  } as CanonicalRequest;

  it("keeps a tool-result continuation on the session's tier-4 model though its score picks tier 1, with the tier behind it as fallbacks", () => {
    expect(decide(continuation, config).model.id).toBe("nano");
    const decision = decide(continuation, config, undefined, NO_HEALTH, session(on("sonnet", 4), true));
    expect(decision.model.id).toBe("sonnet");
    expect(decision.tier).toBe(4);
    expect(decision.fallbacks.map((m) => m.id)).toEqual(["sonnet-b", "opus"]);
    expect(decision.affinity).toBe("kept");
    expect(decision.reasons.join("; ")).toMatch(/tool-result continuation stays on the session's model sonnet/);
  });

  it("leaves the session's model when its circuit is open, the key may not use it, or the context outgrew it", () => {
    const blocked = { ...NO_HEALTH, blocked: (m: { id: string }) => (m.id === "sonnet" ? "circuit open" : undefined) };
    const open = decide(continuation, config, undefined, blocked, session(on("sonnet", 4), true));
    expect(open.model.id).toBe("nano");
    expect(open.affinity).toBe("moved");
    const barred = decide(continuation, config, { maxTier: 2, models: null }, NO_HEALTH, session(on("sonnet", 4), true));
    expect(barred.model.id).toBe("nano");
    expect(barred.reasons.join("; ")).toMatch(/sonnet is not one this key may use/);
    const small = parseConfig({
      GROQ_API_KEY: "gsk_x",
      MODELS_JSON: JSON.stringify(registry.map((m) => (m.id === "sonnet" ? { ...m, context_window: 1 } : m))),
    });
    const outgrown = decide(continuation, small, undefined, NO_HEALTH, session(on("sonnet", 4), true));
    expect(outgrown.model.id).toBe("nano");
    expect(outgrown.reasons.join("; ")).toMatch(/sonnet cannot serve this turn \(context window 1 </);
  });

  it("moves a harder user turn up from the session's tier", () => {
    const decision = decide(hard, config, undefined, NO_HEALTH, session(on("nano", 1), false));
    expect(decision.tier).toBe(5);
    expect(decision.affinity).toBe("moved");
  });

  it("weighs a user turn's expected answer in the gate, not the ceiling its max_tokens sets", () => {
    // A warm 60k-token session on Sonnet; the next user turn is easy, and asks for up to 32,000 tokens as Claude Code does.
    const history = "export const total = (items) => items.reduce((sum, item) => sum + item.price, 0);\n".repeat(2_800);
    const easy = {
      model: "auto",
      max_tokens: 32_000,
      messages: [
        { role: "user", content: history },
        { role: "assistant", content: "Read it." },
        { role: "user", content: "thanks" },
      ],
    } as CanonicalRequest;
    const key = { maxTier: null, models: ["haiku", "sonnet"] };
    expect(decide(easy, config, key).model.id).toBe("haiku");
    const warm = { model: "sonnet", tier: 4, cacheUntil: now + 300_000, promptTokens: 58_000 } as const;
    const decision = decide(easy, config, key, NO_HEALTH, session(warm, false));
    // Staying: 58,000 read at $0.30 and 512 written at $15 is about $0.03; moving writes 60,000 at $1.25, about $0.08.
    // At the ceiling, 32,000 written at $15 against $5 would have made the move look three times cheaper.
    expect(decision.model.id).toBe("sonnet");
    expect(decision.affinity).toBe("kept");
    expect(decision.reasons.join("; ")).toMatch(/cache-regret gate: moving does not pay/);
  });

  it("routes every turn on its own when affinity is off, and says nothing of affinity", () => {
    const decision = decide(continuation, config, undefined, NO_HEALTH, session(on("sonnet", 4), true, false));
    expect(decision.model.id).toBe("nano");
    expect(decision.affinity).toBeUndefined();
  });

  it("does not steer a forced tier or a named model, but says what it did to the session", () => {
    expect(decide({ ...continuation, model: "tier:1" }, config, undefined, NO_HEALTH, session(on("sonnet", 4), true)).affinity).toBe("moved");
    expect(decide({ ...continuation, model: "sonnet" }, config, undefined, NO_HEALTH, session(on("sonnet", 4), true)).affinity).toBe("kept");
    expect(decide(continuation, config, undefined, NO_HEALTH, session(undefined, true)).affinity).toBe("new");
  });
});
