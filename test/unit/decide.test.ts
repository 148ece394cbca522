import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { ApiError } from "../../src/http/errors.ts";
import { decide } from "../../src/routing/decide.ts";
import { type Demand, NO_HEALTH, pickModel } from "../../src/routing/pick.ts";
import { testModel } from "../support/models.ts";

const model = testModel;
const demand = (extra: Partial<Demand> = {}): Demand => ({
  promptTokens: 100,
  outputTokens: 100,
  reservedOutputTokens: 0,
  capabilities: [],
  ...extra,
});
const all = (): boolean => true;

describe("pickModel", () => {
  const registry = [model("a1", 1, 3), model("b1", 1, 1), model("c2", 2, 5), model("v3", 3, 9, { capabilities: ["vision"] })];

  it("picks the cheapest fitting model and lists the rest of the tier, then the tiers above", () => {
    const pick = pickModel(registry, 1, demand(), all)!;
    expect(pick.model.id).toBe("b1");
    expect(pick.fallbacks.map((m) => m.id)).toEqual(["a1", "c2", "v3"]);
    expect(pick.tier).toBe(1);
  });

  it("prefers a configured provider to a cheaper unconfigured one", () => {
    const mixed = [model("cheap", 1, 1, { provider: "openrouter" }), model("dear", 1, 5)];
    expect(pickModel(mixed, 1, demand(), (m) => m.provider === "groq")!.model.id).toBe("dear");
  });

  it("escalates when the tier lacks a capability, and says so", () => {
    const pick = pickModel(registry, 1, demand({ capabilities: ["vision"] }), all)!;
    expect(pick.model.id).toBe("v3");
    expect(pick.tier).toBe(3);
    expect(pick.reasons.join(" ")).toMatch(/no tier 1 .* lacks vision/);
    expect(pick.reasons).toContain("escalated to tier 3");
  });

  it("escalates when the prompt plus max_tokens overflows the context window", () => {
    const big = [model("small", 1, 1), model("large", 2, 2, { context_window: 100_000 })];
    const pick = pickModel(big, 1, demand({ promptTokens: 9_000, reservedOutputTokens: 2_000 }), all)!;
    expect(pick.model.id).toBe("large");
    expect(pick.reasons[0]).toMatch(/context window 10000 < 11000 tokens/);
  });

  it("tries the same family at another provider before another model", () => {
    const claude = { family: "claude-sonnet-5" };
    const tier = [model("claude@a", 4, 1, claude), model("gpt", 4, 2), model("claude@b", 4, 3, { ...claude, provider: "openrouter" }), model("top", 5, 1)];
    // By price alone `gpt` would come second; the pick's family goes first, then the rest in their order.
    expect(pickModel(tier, 4, demand(), all)!.fallbacks.map((m) => m.id)).toEqual(["claude@b", "gpt", "top"]);
    // Families are told by the provider's id after its last '/' when an entry names none.
    const derived = [model("x", 1, 1, { upstream_model: "vendor/m-1" }), model("y", 1, 2), model("z", 1, 3, { upstream_model: "m-1" })];
    expect(pickModel(derived, 1, demand(), all)!.fallbacks.map((m) => m.id)).toEqual(["z", "y"]);
  });

  it("returns nothing when no tier from the requested one up can serve", () => {
    expect(pickModel(registry, 4, demand(), all)).toBeUndefined();
  });
});

describe("decide", () => {
  const config = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x" });
  const uncapped = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x", MAX_OUTPUT_TOKENS: "10000000" });
  const ask = (content: string, extra: Partial<CanonicalRequest> = {}): CanonicalRequest =>
    ({ model: "auto", messages: [{ role: "user", content }], ...extra }) as CanonicalRequest;

  it("routes a greeting low and a hard proof high", () => {
    expect(decide(ask("hi there!"), config).tier).toBeLessThanOrEqual(2);
    const hard = decide(
      ask("Prove rigorously that every bounded monotone sequence of real numbers converges, then derive the Bolzano-Weierstrass theorem from it."),
      config,
    );
    expect(hard.tier).toBeGreaterThanOrEqual(4);
    expect(hard.reasons[0]).toMatch(/proof or derivation request/);
  });

  it("honours a forced tier and a named model", () => {
    const forced = decide(ask("hi", { model: "tier:4" }), config);
    expect(forced.tier).toBe(4);
    expect(forced.mode).toBe("tier");
    const named = decide(ask("hi", { model: "openrouter/anthropic/claude-opus-5.5" }), config);
    expect(named.model.id).toBe("openrouter/anthropic/claude-opus-5.5");
    expect(named.mode).toBe("model");
  });

  it("serves a named model whose circuit is open by the same model at another provider, and refuses when there is none", () => {
    const open = (id: string) => ({ ...NO_HEALTH, blocked: (m: { id: string }) => (m.id === id ? "circuit open" : undefined) });
    const named = decide(ask("hi", { model: "groq/llama-3.1-8b-instant" }), config, undefined, open("groq/llama-3.1-8b-instant"));
    expect(named.model.id).toBe("openrouter/meta-llama/llama-3.1-8b-instruct");
    expect(named.reasons.join(" ")).toMatch(/circuit open.*the same model at openrouter serves/);
    expect(() => decide(ask("hi", { model: "openrouter/deepseek/deepseek-v4-pro" }), config, undefined, open("openrouter/deepseek/deepseek-v4-pro"))).toThrow(
      /not taking requests/,
    );
  });

  it("gives a named model the same model at other providers as its only fallbacks", () => {
    // Groq's and OpenRouter's Llama 3.1 8B are one family: named, either may answer for the other, and nothing else may.
    const named = decide(ask("hi", { model: "groq/llama-3.1-8b-instant" }), config);
    expect(named.fallbacks.map((m) => m.id)).toEqual(["openrouter/meta-llama/llama-3.1-8b-instruct"]);
    expect(decide(ask("hi", { model: "openrouter/deepseek/deepseek-v4-pro" }), config).fallbacks).toEqual([]);
  });

  it("rejects an unknown model with 404 and a model that cannot serve with 400", () => {
    const unknown = (): unknown => decide(ask("hi", { model: "gpt-17" }), config);
    expect(unknown).toThrow(ApiError);
    expect(unknown).toThrow(/not in the registry/);
    try {
      decide(ask("hi", { model: "groq/llama-3.1-8b-instant", max_tokens: 200_000 }), uncapped);
      expect.unreachable();
    } catch (error) {
      expect((error as ApiError).status).toBe(400);
      expect((error as ApiError).code).toBe("model_cannot_serve");
    }
  });

  it("refuses with 400 a request no model can hold", () => {
    try {
      decide(ask("hi", { max_tokens: 5_000_000 }), uncapped);
      expect.unreachable();
    } catch (error) {
      expect((error as ApiError).status).toBe(400);
      expect((error as ApiError).code).toBe("no_model_fits");
    }
  });

  it("estimates the cost from the prompt and max_tokens", () => {
    const decision = decide(ask("hi", { model: "tier:5", max_tokens: 1_000 }), config);
    const m = decision.model;
    expect(decision.estimatedCostUsd).toBeCloseTo((decision.promptTokens * m.input_usd_per_mtok + 1_000 * m.output_usd_per_mtok) / 1e6, 12);
  });

  it("prices every one of n choices", () => {
    const one = decide(ask("hi", { model: "tier:5", max_tokens: 1_000 }), config);
    const four = decide(ask("hi", { model: "tier:5", max_tokens: 1_000, n: 4 }), config);
    const output = (1_000 * one.model.output_usd_per_mtok) / 1e6;
    expect(four.estimatedCostUsd - one.estimatedCostUsd).toBeCloseTo(3 * output, 12);
  });

  it("refuses n and max_tokens above the configured caps, naming the field", () => {
    const capped = parseConfig({ MAX_CHOICES: "4", MAX_OUTPUT_TOKENS: "1000" });
    const refusal = (request: CanonicalRequest): ApiError => {
      try {
        decide(request, capped);
      } catch (error) {
        return error as ApiError;
      }
      throw new Error("not refused");
    };
    expect(refusal(ask("hi", { n: 5 }))).toMatchObject({ status: 400, param: "n" });
    expect(refusal(ask("hi", { max_tokens: 1_001 }))).toMatchObject({ status: 400, param: "max_tokens" });
    expect(refusal(ask("hi", { max_completion_tokens: 1_001 }))).toMatchObject({ status: 400, param: "max_completion_tokens" });
    expect(decide(ask("hi", { n: 4, max_tokens: 1_000 }), capped).tier).toBeGreaterThan(0);
  });

  it("takes a provider's own model id as an alias when only one entry uses it", () => {
    expect(decide(ask("hi", { model: "mistralai/mistral-nemo" }), config).model.id).toBe("openrouter/mistralai/mistral-nemo");
    const twice = parseConfig({
      MODELS_JSON: JSON.stringify([model("a/shared", 1, 1, { upstream_model: "shared" }), model("b/shared", 1, 2, { upstream_model: "shared" })]),
    });
    expect(() => decide(ask("hi", { model: "shared" }), twice)).toThrow(/not in the registry/);
  });
});

describe("the task, not the scaffold", () => {
  const config = parseConfig({ OPENROUTER_API_KEY: "k", GROQ_API_KEY: "k" });
  const schema = JSON.stringify({
    properties: { name: { type: "string" }, age: { type: "integer" } },
    required: ["name", "age"],
    title: "User",
    type: "object",
  });
  const tools = Array.from({ length: 12 }, (_, i) => ({ type: "function" as const, function: { name: `tool_${i}`, parameters: { type: "object" } } }));
  const claudeCodeSystem = "You are Claude Code, an interactive CLI tool for software engineering. Use the tools.\n```ts\nconst x = 1;\n```\n".repeat(60);

  it("sends instructor's JSON-mode 'Bob is 30' to tier 1-2, whatever its system prompt's schema", () => {
    const request: CanonicalRequest = {
      model: "auto",
      response_format: { type: "json_object" },
      messages: [
        {
          role: "system",
          content: `As a genius expert, provide the parsed objects in json that match the following json_schema:\n\n${schema}\n\nReturn an instance of the JSON, not the schema itself`,
        },
        { role: "user", content: "Bob is 30" },
      ],
    };
    expect(decide(request, config).tier).toBeLessThanOrEqual(2);
  });

  it("scores Claude Code's greeting by the greeting, not by its thousands of tokens of system prompt, which still count for the window", () => {
    const greeting: CanonicalRequest = {
      model: "auto",
      tools,
      messages: [
        { role: "system", content: claudeCodeSystem },
        { role: "user", content: "say hi" },
      ],
    };
    const decided = decide(greeting, config);
    expect(decided.tier).toBeLessThanOrEqual(2);
    expect(decided.promptTokens).toBeGreaterThan(claudeCodeSystem.length / 5);
    const refactor: CanonicalRequest = {
      ...greeting,
      messages: [
        { role: "system", content: claudeCodeSystem },
        {
          role: "user",
          content:
            "Refactor this module into smaller functions and write its unit tests:\n```ts\nexport function parse(input: string) { return input.split(',').map(Number).filter((n) => !Number.isNaN(n)); }\n```",
        },
      ],
    };
    expect(decide(refactor, config).tier).toBeGreaterThanOrEqual(4);
  });

  it("leaves a client's reminders in a user turn, and the turns already answered, out of the score", () => {
    const reminder = `<system-reminder>\n${claudeCodeSystem}\n</system-reminder>`;
    const greeting: CanonicalRequest = {
      model: "auto",
      tools,
      messages: [
        { role: "user", content: "Prove the prime number theorem rigorously, with every lemma." },
        { role: "assistant", content: "Here is the proof." },
        {
          role: "user",
          content: [
            { type: "text", text: reminder },
            { type: "text", text: "thanks, say hi" },
          ],
        },
      ],
    };
    expect(decide(greeting, config).tier).toBeLessThanOrEqual(2);
  });
});
