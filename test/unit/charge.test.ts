/**
 * Charges and reservations by usage class: each class at its own price, rounded up once,
 * checked against an independent exact computation; a reservation no charge can pass.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ChargeInput, chargeFor } from "../../src/engine/charge.ts";
import type { Usage } from "../../src/providers/usage.ts";
import { readUsage } from "../../src/providers/usage.ts";
import { cacheLifetimeOf, type PricedModel, reserveMicros, usageMicros } from "../../src/routing/cost.ts";
import { type Band, bandPrices } from "../support/models.ts";

/** A price with at most three decimals, as `thousandths` of a micro-dollar per token: exact in bigint arithmetic. */
const thousandths = fc.integer({ min: 0, max: 200_000 });
const priceBand = fc.record({ input: thousandths, output: thousandths, read: thousandths, write: thousandths, write1h: thousandths });

/** Usage whose classes are parts of the prompt, as the readers leave it. */
const usageArb = fc
  .record({
    uncached: fc.integer({ min: 0, max: 2_000_000 }),
    read: fc.integer({ min: 0, max: 2_000_000 }),
    write: fc.integer({ min: 0, max: 2_000_000 }),
    write1h: fc.integer({ min: 0, max: 2_000_000 }),
    completion: fc.integer({ min: 0, max: 200_000 }),
  })
  .map(
    ({ uncached, read, write, write1h, completion }): Usage => ({
      promptTokens: uncached + read + write + write1h,
      completionTokens: completion,
      ...(read > 0 ? { cacheReadTokens: read } : {}),
      ...(write > 0 ? { cacheWriteTokens: write } : {}),
      ...(write1h > 0 ? { cacheWrite1hTokens: write1h } : {}),
    }),
  );

/** The listed price of the classes, in bigint: thousandths of a micro-dollar summed exactly, then rounded up once. */
function exactMicros(band: Band, usage: Usage): number {
  const read = BigInt(usage.cacheReadTokens ?? 0);
  const write = BigInt(usage.cacheWriteTokens ?? 0);
  const write1h = BigInt(usage.cacheWrite1hTokens ?? 0);
  const uncached = BigInt(usage.promptTokens) - read - write - write1h;
  const total =
    uncached * BigInt(band.input) +
    read * BigInt(band.read) +
    write * BigInt(band.write) +
    write1h * BigInt(band.write1h) +
    BigInt(usage.completionTokens) * BigInt(band.output);
  return Number((total + 999n) / 1000n);
}

/** A charge that nothing bounds: the report as read is what is charged. */
function unbounded(model: PricedModel, reported: Usage): ChargeInput {
  return {
    model: { ...model, context_window: 10_000_000 },
    reported,
    promptEstimate: reported.promptTokens,
    promptFloor: 0,
    sent: { chars: reported.promptTokens, images: 0 },
    writtenChars: 0,
    completionLimit: 10_000_000,
    reservedMicros: undefined,
  };
}

describe("a charge is the listed price of the classes reported", () => {
  it("prices each class at its own price, rounded up once, exactly as an independent bigint computation", () => {
    fc.assert(
      fc.property(priceBand, usageArb, (band, usage) => {
        const charged = chargeFor(unbounded(bandPrices(band), usage));
        expect(charged.usage).toEqual(usage);
        expect(Math.abs(charged.costMicros - exactMicros(band, usage))).toBeLessThanOrEqual(1);
        expect(charged.costMicros).toBe(exactMicros(band, usage));
      }),
      { numRuns: 2_000 },
    );
  });

  it("prices the whole request at the `above` band once the prompt passes its threshold", () => {
    fc.assert(
      fc.property(priceBand, priceBand, usageArb, fc.integer({ min: 1, max: 4_000_000 }), (below, above, usage, threshold) => {
        const model = { ...bandPrices(below), above: { prompt_tokens: threshold, ...bandPrices(above) } };
        const band = usage.promptTokens > threshold ? above : below;
        expect(chargeFor(unbounded(model, usage)).costMicros).toBe(exactMicros(band, usage));
      }),
      { numRuns: 1_000 },
    );
  });

  it("keeps float noise from adding a micro-dollar", () => {
    // 15 × 0.15 is 2.2499999999999996 in floats.
    const model = {
      input_usd_per_mtok: 0.15,
      output_usd_per_mtok: 0.15,
      cache_read_usd_per_mtok: 0.015,
      cache_write_usd_per_mtok: 0.1875,
      cache_write_1h_usd_per_mtok: 0.3,
    };
    expect(usageMicros(model, { promptTokens: 15, completionTokens: 0 })).toBe(3);
    expect(usageMicros(model, { promptTokens: 200, cacheReadTokens: 100, completionTokens: 0 })).toBe(17); // 15 + 1.5
  });

  it("keeps the classes within a prompt clamped to what can have been sent, and says so", () => {
    const model = { ...bandPrices({ input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 }), context_window: 200_000 };
    const charged = chargeFor({
      ...unbounded(model, { promptTokens: 500_000, completionTokens: 10, cacheReadTokens: 150_000, cacheWriteTokens: 100_000 }),
      model,
      promptEstimate: 180_000,
      sent: { chars: 70_000, images: 0 },
    });
    expect(charged.usage).toMatchObject({ promptTokens: 200_000, cacheReadTokens: 150_000, cacheWriteTokens: 50_000 });
    expect(charged.usage.adjusted).toEqual([
      "usage.prompt_tokens 500000 is more than can have been used: clamped to 200000",
      "usage.cache_write_tokens 100000 is more than the 50000 tokens it is part of: clamped",
    ]);
    expect(charged.costMicros).toBe(exactMicros({ input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 }, charged.usage));
  });

  it("prices writes a report gives without their lifetime (OpenRouter's) for as long as the request asked", () => {
    const model = bandPrices({ input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 });
    const reported = readUsage({ prompt_tokens: 1_000, completion_tokens: 0, prompt_tokens_details: { cache_write_tokens: 800 } })!;
    expect(chargeFor(unbounded(model, reported)).costMicros).toBe(Math.ceil((200 * 3_000 + 800 * 3_750) / 1_000));
    const hour = chargeFor({ ...unbounded(model, reported), cacheLifetime: "1h" });
    expect(hour.costMicros).toBe(Math.ceil((200 * 3_000 + 800 * 6_000) / 1_000));
    expect(hour.usage).toMatchObject({ cacheWrite1hTokens: 800 });
    expect(hour.usage.cacheWriteTokens).toBeUndefined();
    // Anthropic's own report splits its writes: taken as split, whatever was asked.
    const split = { promptTokens: 1_000, completionTokens: 0, cacheWriteTokens: 800 };
    expect(chargeFor({ ...unbounded(model, split), cacheLifetime: "1h" }).costMicros).toBe(Math.ceil((200 * 3_000 + 800 * 3_750) / 1_000));
  });

  it("never charges past the reservation, and notes it", () => {
    const model = bandPrices({ input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 });
    const charged = chargeFor({ ...unbounded(model, { promptTokens: 1_000, completionTokens: 0, cacheWrite1hTokens: 1_000 }), reservedMicros: 4_000 });
    expect(charged.costMicros).toBe(4_000);
    expect(charged.usage.adjusted).toEqual(["charged the 4000 µ$ reserved: the usage reported costs 6000 µ$"]);
  });
});

describe("a reservation prices the prompt at its dearest class", () => {
  const lifetimeArb = fc.constantFrom("5m" as const, "1h" as const);

  it("holds every charge of the same tokens, in whatever classes they are reported", () => {
    fc.assert(
      fc.property(priceBand, usageArb, lifetimeArb, (band, usage, lifetime) => {
        const reported = lifetime === "1h" ? usage : { ...usage, cacheWrite1hTokens: undefined };
        const model = bandPrices(band);
        expect(usageMicros(model, reported)).toBeLessThanOrEqual(reserveMicros(model, usage.promptTokens, usage.completionTokens, lifetime));
      }),
      { numRuns: 2_000 },
    );
  });

  it("is the 5-minute write price when it is dearer than input, the 1-hour one when the request asks an hour", () => {
    const sonnet = bandPrices({ input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 });
    expect(reserveMicros(sonnet, 100_000, 1_000, "5m")).toBe(375_000 + 15_000);
    expect(reserveMicros(sonnet, 100_000, 1_000, "1h")).toBe(600_000 + 15_000);
    const gemini = {
      ...bandPrices({ input: 1_250, output: 10_000, read: 125, write: 1_250, write1h: 1_250 }),
      above: { prompt_tokens: 200_000, ...bandPrices({ input: 2_500, output: 15_000, read: 250, write: 2_500, write1h: 2_500 }) },
    };
    expect(reserveMicros(gemini, 200_000, 100, "5m")).toBe(250_000 + 1_000);
    expect(reserveMicros(gemini, 200_001, 100, "5m")).toBe(500_003 + 1_500);
  });
});

describe("cacheLifetimeOf: does the request ask the provider for an hour?", () => {
  const hour = { type: "ephemeral", ttl: "1h" };
  const text = (cache_control?: unknown) => ({ type: "text", text: "context", ...(cache_control === undefined ? {} : { cache_control }) });

  it("finds a 1-hour breakpoint on a message, a content part or a tool", () => {
    expect(cacheLifetimeOf({ messages: [{ role: "user", content: [text(hour)] }] } as never)).toBe("1h");
    expect(cacheLifetimeOf({ messages: [{ role: "tool", tool_call_id: "a", content: [text(hour)] }] } as never)).toBe("1h");
    expect(cacheLifetimeOf({ messages: [{ role: "system", content: "s", cache_control: hour }] } as never)).toBe("1h");
    const tool = { type: "function", function: { name: "f" }, cache_control: hour };
    expect(cacheLifetimeOf({ messages: [{ role: "user", content: "hi" }], tools: [tool] } as never)).toBe("1h");
    // The request's own mark (automatic caching): its writes are an hour's too, as the session's life says.
    expect(cacheLifetimeOf({ messages: [{ role: "user", content: "hi" }], cache_control: hour } as never)).toBe("1h");
  });

  it("is 5 minutes for no breakpoint, a default one, or a 5-minute one", () => {
    expect(cacheLifetimeOf({ messages: [{ role: "user", content: "hi" }] } as never)).toBe("5m");
    expect(
      cacheLifetimeOf({ messages: [{ role: "user", content: [text({ type: "ephemeral" }), text({ type: "ephemeral", ttl: "5m" })] }], tools: null } as never),
    ).toBe("5m");
  });
});
