/**
 * What a request is estimated to cost before the call (the reservation and the tpm
 * debit both use it), and how charges round: from what is sent, never free.
 */
import { describe, expect, it } from "vitest";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { chargeFor } from "../../src/engine/charge.ts";
import { decide } from "../../src/routing/decide.ts";
import { IMAGE_TOKENS } from "../../src/routing/estimate.ts";
import { costMicros, findModel } from "../../src/routing/registry.ts";

const config = parseConfig({ OPENROUTER_API_KEY: "k", GROQ_API_KEY: "k" });
const base: CanonicalRequest = { model: "tier:1", messages: [{ role: "user", content: "Summarise the release notes." }] };
const prompt = (request: CanonicalRequest): number => decide(request, config).promptTokens;

describe("the estimate counts what is sent", () => {
  const plain = prompt(base);

  it("counts a tool's description and parameters", () => {
    const description = "d".repeat(200_000);
    const tools = [{ type: "function" as const, function: { name: "f", description, parameters: { type: "object", properties: { q: { type: "string" } } } } }];
    expect(prompt({ ...base, tools })).toBeGreaterThanOrEqual(plain + 200_000 / 4);
  });

  it("counts a message's name, an image, an audio and a file part, and an unknown field passed through", () => {
    const named: CanonicalRequest = { ...base, messages: [{ role: "user", content: "Summarise the release notes.", name: "n".repeat(4_000) }] };
    expect(prompt(named)).toBeGreaterThanOrEqual(plain + 1_000);
    const withParts = (part: Record<string, unknown>): CanonicalRequest =>
      ({ ...base, messages: [{ role: "user", content: [{ type: "text", text: "Summarise the release notes." }, part] }] }) as CanonicalRequest;
    expect(prompt(withParts({ type: "image_url", image_url: { url: "https://example.com/a.png" } }))).toBeGreaterThanOrEqual(plain + IMAGE_TOKENS);
    expect(prompt(withParts({ type: "input_audio", input_audio: { data: "a".repeat(40_000), format: "wav" } }))).toBeGreaterThanOrEqual(plain + 10_000);
    expect(prompt(withParts({ type: "file", file: { file_data: "f".repeat(40_000) } }))).toBeGreaterThanOrEqual(plain + 10_000);
    expect(prompt({ ...base, provider: { order: ["x".repeat(40_000)] } } as CanonicalRequest)).toBeGreaterThanOrEqual(plain + 10_000);
  });

  it("prices the larger of max_tokens and max_completion_tokens, both of which are forwarded", () => {
    const both = decide({ ...base, max_completion_tokens: 1, max_tokens: 100_000 }, config);
    expect(both.outputTokens).toBe(100_000);
    expect(decide({ ...base, max_completion_tokens: 100_000, max_tokens: 1 }, config).outputTokens).toBe(100_000);
  });
});

describe("money is whole micro-dollars, rounded up", () => {
  it("does not believe a report far below what was sent and written: a 1 for a long prompt", () => {
    const model = findModel(config.registry, "groq/llama-3.1-8b-instant")!;
    const charge = chargeFor({
      model,
      reported: { promptTokens: 1, completionTokens: 1 },
      promptEstimate: 5_000,
      promptFloor: 5_000,
      sent: { chars: 20_000, images: 0 },
      writtenChars: 4_000,
      completionLimit: 2_000,
      reservedMicros: undefined,
    });
    expect(charge.usage).toMatchObject({ promptTokens: 5_000, completionTokens: 1_000 });
  });

  const cheapest = findModel(config.registry, "groq/llama-3.1-8b-instant")!;

  it("charges a tiny answer one micro-dollar, never nothing, and float noise never adds one", () => {
    expect(costMicros(cheapest, 1, 1)).toBe(1);
    expect(costMicros(cheapest, 0, 0)).toBe(0);
    // 15 tokens at $0.15 a million is 2.25 µ$ in exact arithmetic, 2.2500000000000004 in floats: 3 either way, never 4.
    expect(costMicros({ ...cheapest, input_usd_per_mtok: 0.15, output_usd_per_mtok: 0 }, 15, 0)).toBe(3);
    expect(costMicros({ ...cheapest, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2 }, 10, 10)).toBe(3);
  });

  it("charges a budgeted answer no more than was reserved, and says so", () => {
    const charge = chargeFor({
      model: cheapest,
      reported: { promptTokens: 100_000, completionTokens: 100 },
      promptEstimate: 10,
      promptFloor: 10,
      sent: { chars: 1_000_000, images: 0 },
      writtenChars: 400,
      completionLimit: 512,
      reservedMicros: 5,
    });
    expect(charge.costMicros).toBe(5);
    expect(charge.usage.adjusted).toEqual([expect.stringContaining("charged the 5 µ$ reserved")]);
  });

  it("charges an answer with no usage what was sent and written", () => {
    const charge = chargeFor({
      model: cheapest,
      reported: undefined,
      promptEstimate: 40,
      promptFloor: 40,
      sent: { chars: 200, images: 0 },
      writtenChars: 400,
      completionLimit: 512,
      reservedMicros: undefined,
    });
    expect(charge.usage).toMatchObject({ promptTokens: 40, completionTokens: 100 });
    expect(charge.costMicros).toBe(costMicros(cheapest, 40, 100));
  });
});
