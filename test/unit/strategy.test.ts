/** Picking around open circuits and by each tier's strategy: pure functions, health and randomness passed in. */
import { describe, expect, it } from "vitest";
import { type Demand, NO_HEALTH, pickModel, type RoutingHealth } from "../../src/routing/pick.ts";
import type { Model, Tier } from "../../src/routing/registry.ts";
import { orderByStrategy } from "../../src/routing/strategy.ts";
import { testModel } from "../support/models.ts";

/** Models whose ids begin with "g" are Groq's, the rest OpenRouter's. */
const model = (id: string, tier: Tier, price: number, extra: Partial<Model> = {}): Model =>
  testModel(id, tier, price, { provider: id.startsWith("g") ? "groq" : "openrouter", ...extra });
const demand: Demand = { promptTokens: 100, outputTokens: 100, reservedOutputTokens: 0, capabilities: [] };
const all = (): boolean => true;
const cost = { 1: "cost", 2: "cost", 3: "cost", 4: "cost", 5: "cost" } as const;
/** Draws from a fixed sequence, so a test says exactly which models were drawn. */
const draws =
  (...values: number[]) =>
  () =>
    values.shift() ?? 0;
const health = (open: Record<string, string>, latency: Record<string, number> = {}, random = Math.random): RoutingHealth => ({
  blocked: (m) => open[m.id] ?? open[`provider:${m.provider}`],
  latencyMs: (m) => latency[m.id],
  random,
  retryAfterSeconds: () => 1,
});

describe("pickModel around open circuits", () => {
  const registry = [model("g1", 1, 1), model("o1", 1, 2), model("o2", 2, 5), model("g3", 3, 9)];

  it("skips an open model for the next of its tier, saying why", () => {
    const pick = pickModel(registry, 1, demand, all, { health: health({ g1: "circuit open for 20 s more" }), strategies: cost })!;
    expect(pick.model.id).toBe("o1");
    expect(pick.fallbacks.map((m) => m.id)).toEqual(["o2", "g3"]);
    expect(pick.reasons).toContain("skipped g1: circuit open for 20 s more");
  });

  it("escalates when a whole tier is open, and leaves open models out of the fallbacks", () => {
    const pick = pickModel(registry, 1, demand, all, { health: health({ g1: "open", o1: "open", g3: "open" }), strategies: cost })!;
    expect(pick.model.id).toBe("o2");
    expect(pick.tier).toBe(2);
    expect(pick.fallbacks).toEqual([]);
    expect(pick.reasons).toContain("escalated to tier 2");
  });

  it("finds nothing when every model is open", () => {
    expect(
      pickModel(registry, 1, demand, all, { health: health({ "provider:groq": "down", "provider:openrouter": "down" }), strategies: cost }),
    ).toBeUndefined();
    expect(pickModel(registry, 1, demand, all, { health: NO_HEALTH, strategies: cost })?.model.id).toBe("g1");
  });
});

describe("orderByStrategy", () => {
  const tier = [model("cheap", 2, 1), model("mid", 2, 2), model("dear", 2, 3)];

  it("cost-first keeps the cheapest first", () => {
    expect(orderByStrategy(tier, "cost", { latencyMs: () => 5, random: draws(0.9) }).models.map((m) => m.id)).toEqual(["cheap", "mid", "dear"]);
  });

  it("latency-first takes the faster of the two drawn, and the rest cheapest first", () => {
    const latency: Record<string, number> = { cheap: 400, mid: 90, dear: 30 };
    // Draws: index 0 (cheap), then 1 + floor(0.1 × 2) = 1 after it → mid.
    const ordered = orderByStrategy(tier, "latency", { latencyMs: (m) => latency[m.id], random: draws(0, 0.1) });
    expect(ordered.models.map((m) => m.id)).toEqual(["mid", "cheap", "dear"]);
    expect(ordered.reason).toBe("latency-first: mid (90 ms) beat cheap (400 ms) in a draw of two");
  });

  it("latency-first gives a model with no latency yet its turn", () => {
    const ordered = orderByStrategy(tier, "latency", { latencyMs: (m) => (m.id === "dear" ? undefined : 10), random: draws(0.99, 0) });
    expect(ordered.models[0]!.id).toBe("dear");
  });

  it("latency-first spreads load: over many draws the slowest model is never first, the fastest most often", () => {
    const latency: Record<string, number> = { cheap: 300, mid: 200, dear: 100 };
    const firsts: Record<string, number> = { cheap: 0, mid: 0, dear: 0 };
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    for (let i = 0; i < 3_000; i++) firsts[orderByStrategy(tier, "latency", { latencyMs: (m) => latency[m.id], random }).models[0]!.id]! += 1;
    expect(firsts.cheap).toBe(0);
    expect(firsts.dear).toBeGreaterThan(firsts.mid!);
    expect(firsts.mid).toBeGreaterThan(500);
  });

  it("weighted draws by weight", () => {
    const weighted = [model("a", 2, 1, { weight: 1 }), model("b", 2, 2, { weight: 3 })];
    expect(orderByStrategy(weighted, "weighted", { latencyMs: () => undefined, random: draws(0.2) }).models[0]!.id).toBe("a");
    const heavy = orderByStrategy(weighted, "weighted", { latencyMs: () => undefined, random: draws(0.3) });
    expect(heavy.models.map((m) => m.id)).toEqual(["b", "a"]);
    expect(heavy.reason).toBe("weighted: b drawn with weight 3 of 4");
  });
});
