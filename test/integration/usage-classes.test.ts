/**
 * Cache classes charged at their own prices, end to end: the worker in workerd, Redis and
 * Postgres, and the fake provider reporting each provider's usage as its wire format says
 * it. The four double-count shapes from LiteLLM's tracker (#6215, #9812, #11789, #14849),
 * each streamed and not: the audit row's cost and classes, and the key's spend, are the
 * listed price of the classes reported, computed here independently in bigint.
 */
import { describe, expect, it } from "vitest";
import { ledgerOf } from "../support/ledger.ts";
import { type Band, bandPrices } from "../support/models.ts";
import { chat, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const entry = (upstream: string, band: Band, above?: { prompt_tokens: number } & Band) => ({
  id: `openrouter/${upstream}`,
  provider: "openrouter",
  upstream_model: upstream,
  tier: 3,
  ...bandPrices(band),
  ...(above === undefined ? {} : { above: { prompt_tokens: above.prompt_tokens, ...bandPrices(above) } }),
  price_read_on: "2026-12-01",
  context_window: 200_000,
  capabilities: ["tools", "json", "streaming"],
});

const GPT = { input: 150, output: 600, read: 75, write: 150, write1h: 150 };
const CLAUDE = { input: 3_000, output: 15_000, read: 300, write: 3_750, write1h: 6_000 };
const GEMINI = { input: 1_250, output: 10_000, read: 310, write: 1_250, write1h: 1_250 };
// Gemini Pro's long-context band, its threshold brought down to what a test prompt passes.
const GEMINI_LONG = { prompt_tokens: 2_000, input: 2_500, output: 15_000, read: 625, write: 2_500, write1h: 2_500 };
const MODELS = [
  entry("openai/gpt-4o-mini", GPT),
  entry("anthropic/claude-sonnet-4.5", CLAUDE),
  entry("google/gemini-2.5-pro", GEMINI, GEMINI_LONG),
  // The same prices with every threshold out of reach, so the two bands can be told apart.
  entry("google/gemini-2.5-flash", GEMINI),
];

type Reported = { prompt: number; completion: number; read?: number; write?: number };

/** The listed price of the classes, in whole micro-dollars rounded up once. */
function listedMicros(band: Band, { prompt, completion, read = 0, write = 0 }: Reported): number {
  const thousandths =
    BigInt(prompt - read - write) * BigInt(band.input) +
    BigInt(read) * BigInt(band.read) +
    BigInt(write) * BigInt(band.write) +
    BigInt(completion) * BigInt(band.output);
  return Number((thousandths + 999n) / 1000n);
}

/** OpenAI's chat usage with the classes inside prompt_tokens, as OpenAI and OpenRouter report them. */
const openAiUsage = ({ prompt, completion, read, write }: Reported) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: read ?? 0, ...(write === undefined ? {} : { cache_write_tokens: write }) },
});

const stack = useFakeStack({ bindings: { REQUIRE_API_KEY: "true", MODELS_JSON: JSON.stringify(MODELS) } });
const as = (key: string) => ({ authorization: `Bearer ${key}`, "cache-control": "no-cache, no-store" });

const { makeKey, settledRows, spent } = ledgerOf(
  () => stack,
  () => stack.storage,
  "classes",
);

/** About 4,000 tokens as the router estimates them: room for a 3,000-token report to be believed. */
const longPrompt = (label: string): string => `${uniquePrompt(label)} ${"context ".repeat(2_000)}`;
const COMPLETION = 20;

const SHAPES: { name: string; model: string; band: Band; reported: Reported }[] = [
  // (1) OpenAI's cached tokens are inside prompt_tokens: charged at the read price, not the full rate.
  { name: "OpenAI cached tokens at the read price", model: "openai/gpt-4o-mini", band: GPT, reported: { prompt: 3_000, completion: COMPLETION, read: 2_048 } },
  // (2) OpenRouter reports Anthropic's writes inside prompt_tokens: priced once, at the write price.
  {
    name: "Anthropic cache writes priced once, at the write price",
    model: "anthropic/claude-sonnet-4.5",
    band: CLAUDE,
    reported: { prompt: 3_000, completion: COMPLETION, read: 0, write: 2_900 },
  },
  // (3) An Anthropic answer's cache reads (a stream's final usage chunk) at the read price.
  {
    name: "Anthropic cache reads at the read price",
    model: "anthropic/claude-sonnet-4.5",
    band: CLAUDE,
    reported: { prompt: 3_000, completion: COMPLETION, read: 2_800, write: 150 },
  },
  // (4) OpenRouter reports Gemini's cache hits as cached_tokens inside prompt_tokens: read once, at the read price.
  { name: "Gemini cache hits counted once", model: "google/gemini-2.5-flash", band: GEMINI, reported: { prompt: 1_900, completion: COMPLETION, read: 1_024 } },
  // …and past Gemini Pro's long-context threshold, every class at the band above it.
  {
    name: "Gemini cache hits past the long-context threshold",
    model: "google/gemini-2.5-pro",
    band: GEMINI_LONG,
    reported: { prompt: 3_000, completion: COMPLETION, read: 2_048 },
  },
];

describe("the double-count shapes, each streamed and not, charged the listed price of their classes", () => {
  for (const shape of SHAPES) {
    for (const stream of [false, true]) {
      it(`${shape.name}${stream ? ", streamed" : ""}`, async () => {
        const { id, key } = await makeKey({ daily_budget_usd: 10 });
        Object.assign(stack.fake.behaviour, { completionTokens: COMPLETION, usage: openAiUsage(shape.reported) });
        const body = chat(longPrompt(shape.name), {
          model: `openrouter/${shape.model}`,
          max_tokens: 100,
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        });
        const response = await stack.router.post("/v1/chat/completions", body, as(key));
        expect(response.status).toBe(200);
        await response.text();
        const { rows, micros } = await settledRows(id, 1);
        const row = rows[0]!;
        const listed = listedMicros(shape.band, shape.reported);
        expect(micros).toBe(listed);
        expect(await spent(id)).toBe(listed);
        expect(row).toMatchObject({
          model: `openrouter/${shape.model}`,
          streamed: stream,
          prompt_tokens: String(shape.reported.prompt),
          completion_tokens: String(COMPLETION),
          cache_read_tokens: String(shape.reported.read ?? 0),
          cache_write_tokens: String(shape.reported.write ?? 0),
          cache_write_1h_tokens: "0",
          usage_adjusted: null,
        });
        // What the full rate would have charged: the shape the trackers reported, and not this charge.
        expect(listed).not.toBe(listedMicros({ ...shape.band, read: shape.band.input, write: shape.band.input }, shape.reported));
      });
    }
  }
});

describe("a response-cache hit", () => {
  it("costs nothing, as before, and its row keeps the classes of the answer it replays", async () => {
    const { id, key } = await makeKey({ daily_budget_usd: 10 });
    const reported = { prompt: 3_000, completion: COMPLETION, read: 2_048 };
    Object.assign(stack.fake.behaviour, { completionTokens: COMPLETION, usage: openAiUsage(reported) });
    const body = chat(longPrompt("asked twice"), { model: "openrouter/openai/gpt-4o-mini", max_tokens: 100 });
    const headers = { authorization: `Bearer ${key}` };
    expect((await stack.router.post("/v1/chat/completions", body, headers)).headers.get("x-tiergate-cache")).toBe("MISS");
    await settledRows(id, 1);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the cache write goes with the after-response batch
    const hit = await stack.router.post("/v1/chat/completions", body, headers);
    expect(hit.headers.get("x-tiergate-cache")).toBe("HIT");
    const { rows, micros } = await settledRows(id, 2);
    expect(micros).toBe(listedMicros(GPT, reported));
    const hitRow = rows.find((row) => row.cache_status === "HIT")!;
    expect(hitRow).toMatchObject({ cost_usd: 0, prompt_tokens: "3000", cache_read_tokens: "2048", cache_write_tokens: "0" });
  });
});

describe("a budget worth exactly one request with its whole prompt written to the cache", () => {
  it("serves it at the listed write price, spends the budget to the micro-dollar, and refuses the next", async () => {
    const body = (text: string) => chat(text, { model: "openrouter/anthropic/claude-sonnet-4.5", max_tokens: COMPLETION });
    const text = longPrompt("the whole budget");
    const probe = await (await stack.router.post("/v1/route", body(text), as((await makeKey({})).key))).json();
    const prompt = probe.estimated_prompt_tokens as number;
    const whole = { prompt, completion: COMPLETION, read: 0, write: prompt };
    const budgetMicros = listedMicros(CLAUDE, whole);
    // The reservation prices the prompt at the write price, not the input price it used to.
    expect(Math.round(probe.reserved_usd * 1e6)).toBe(budgetMicros);
    const { id, key } = await makeKey({ daily_budget_usd: budgetMicros / 1e6 });
    Object.assign(stack.fake.behaviour, { completionTokens: COMPLETION, usage: openAiUsage(whole) });
    const first = await stack.router.post("/v1/chat/completions", body(text), as(key));
    expect(first.status).toBe(200);
    await first.text();
    const { rows, micros } = await settledRows(id, 1);
    expect(micros).toBe(budgetMicros);
    expect(rows[0]!.usage_adjusted).toBeNull(); // charged as reported: nothing clamped to the reservation
    expect(await spent(id)).toBe(budgetMicros);
    const next = await stack.router.post("/v1/chat/completions", body(longPrompt("one too many")), as(key));
    expect(next.status).toBe(429);
    await next.text();
    expect(await spent(id)).toBe(budgetMicros);
  });
});

describe("GET /v1/usage", () => {
  it("shows the key's tokens by class, today and this month, and what they cost: the sum of its audit rows", async () => {
    const { id, key } = await makeKey({ daily_budget_usd: 10 });
    const reports: Reported[] = [
      { prompt: 3_000, completion: COMPLETION, read: 2_500, write: 400 },
      { prompt: 2_500, completion: COMPLETION, read: 0, write: 2_400 },
    ];
    for (const [i, reported] of reports.entries()) {
      Object.assign(stack.fake.behaviour, { completionTokens: COMPLETION, usage: openAiUsage(reported) });
      const body = chat(longPrompt("usage route"), { model: "openrouter/anthropic/claude-sonnet-4.5", max_tokens: 100, stream: i === 1 });
      await (await stack.router.post("/v1/chat/completions", body, as(key))).text();
    }
    const { micros } = await settledRows(id, 2);
    expect(micros).toBe(reports.reduce((sum, reported) => sum + listedMicros(CLAUDE, reported), 0));
    const usage = await (await stack.router.fetch("/v1/usage", { headers: { authorization: `Bearer ${key}` } })).json();
    const expected = {
      requests: 2,
      prompt_tokens: 5_500,
      completion_tokens: 2 * COMPLETION,
      cache_read_tokens: 2_500,
      cache_write_tokens: 2_800,
      cache_write_1h_tokens: 0,
      reasoning_tokens: 0,
      cost_usd: micros / 1e6,
    };
    expect(usage.tokens).toEqual({ today: expected, month: expected });
    expect(Math.round(usage.key.today.spent_usd * 1e6)).toBe(micros);
  });
});
