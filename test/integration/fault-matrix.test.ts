/**
 * The fault matrix: each provider fault driven through the fake providers, with the
 * real Redis and Postgres behind the router. Each case asserts the share of requests
 * served, a latency bound, and an audit log that holds every request once, with
 * every attempt. (Redis down and Postgres down: faults.test.ts, on servers it stops.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { chat, freshCircuitView, type Router, startRouter, startTwoProviders, uniquePrompt } from "../support/router.ts";
import { auditRows, clearHealth, startTestStorage, type TestStorage } from "../support/storage.ts";

/** Tier 3 tries groq's llama-3.3-70b first (the cheaper), then openrouter's deepseek, then tier 4: priced by the catalog. */
const MODELS_JSON = JSON.stringify(
  [
    ["groq", "llama-3.3-70b-versatile", 3],
    ["openrouter", "deepseek/deepseek-v4-pro", 3],
    ["openrouter", "anthropic/claude-sonnet-5", 4],
    ["openrouter", "openai/gpt-6-sol", 4],
  ].map(([provider, upstream, tier]) => ({
    id: `${provider}/${upstream}`,
    provider,
    upstream_model: upstream,
    tier,
    context_window: 131_072,
    capabilities: ["tools", "json", "streaming"],
  })),
);
const TIMEOUT_MS = 400;
const CACHE_MS = 100;
let storage: TestStorage;
let providers: Awaited<ReturnType<typeof startTwoProviders>>;
let groq: FakeUpstream;
let router: Router;

beforeAll(async () => {
  storage = await startTestStorage();
  providers = await startTwoProviders();
  ({ groq } = providers);
  router = await startRouter(
    providers.bindings({
      ...storage.bindings,
      MODELS_JSON,
      UPSTREAM_RETRIES: "1",
      UPSTREAM_RETRY_BASE_MS: "5",
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      BREAKER_FAILURES: "3",
      HEALTH_CACHE_MS: String(CACHE_MS),
    }),
  );
});
afterAll(async () => {
  await Promise.all([router.close(), providers.close()]);
  await storage.close();
});
beforeEach(async () => {
  providers.reset();
  await clearHealth(storage);
  await freshCircuitView(CACHE_MS, router);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GROQ_70B = "llama-3.3-70b-versatile";

type Sent = { id: string; status: number; ms: number; body: string; attempts: string };

async function send(n: number, extra: Record<string, unknown> = {}, between = 0): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let i = 0; i < n; i++) {
    const startedAt = Date.now();
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt("matrix"), { model: "tier:3", ...extra }));
    const body = await response.text();
    sent.push({
      id: response.headers.get("x-request-id")!,
      status: response.status,
      ms: Date.now() - startedAt,
      body,
      attempts: response.headers.get("x-tiergate-attempts") ?? "",
    });
    if (between > 0) await sleep(between);
  }
  return sent;
}

type Row = {
  request_id: string;
  http_status: number;
  attempts: { model: string; outcome: string; ms: number }[] | null;
  fallbacks_tried: string[];
  truncated: boolean;
  error_code: string | null;
  model: string;
};

/** The audit rows of exactly these requests, once the flush has landed them all; fails on a missing or doubled row. */
async function rowsOf(sent: Sent[]): Promise<Row[]> {
  const ids = new Set(sent.map((s) => s.id));
  const deadline = Date.now() + 10_000;
  for (;;) {
    await router.scheduled();
    const rows = (await auditRows(storage.db)).filter((row) => ids.has(row.request_id as string)) as unknown as Row[];
    if (rows.length >= ids.size || Date.now() > deadline) {
      expect(rows).toHaveLength(sent.length);
      return sent.map((s) => rows.find((row) => row.request_id === s.id)!);
    }
    await sleep(50);
  }
}

/** Every row names each attempt, in order, ending in the model that answered; the fallbacks list the models tried. */
function expectCompleteAttempts(rows: Row[]): void {
  for (const row of rows) {
    expect(row.attempts!.length).toBeGreaterThan(0);
    expect(row.fallbacks_tried).toEqual([...new Set(row.attempts!.map((a) => a.model))]);
    if (row.http_status === 200) expect(row.attempts!.at(-1)).toMatchObject({ model: row.model, outcome: "ok" });
  }
}
const served = (sent: Sent[]) => sent.filter((s) => s.status === 200 && !s.body.includes('"error"')).length / sent.length;
const slowest = (sent: Sent[]) => Math.max(...sent.map((s) => s.ms));
const triedGroq = (rows: Row[]) => rows.filter((row) => row.attempts!.some((a) => a.model.startsWith("groq/"))).length;

describe("the fault matrix", () => {
  it("a 5xx storm on one model: every request served, the model's circuit opens after 3 failed requests", async () => {
    groq.behaviour.perModel = { [GROQ_70B]: { errorStatus: 500 } };
    const sent = await send(20);
    expect(served(sent)).toBe(1);
    expect(slowest(sent)).toBeLessThan(1_000);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    expect(rows[0]!.attempts!.map((a) => a.outcome)).toEqual(["upstream_error", "upstream_error", "ok"]);
    // One failure a request, however often it retried (a request cannot open a circuit alone): three requests open it.
    expect(triedGroq(rows)).toBeLessThanOrEqual(4);
    expect(rows.at(-1)!.attempts).toHaveLength(1);
  });

  it("a whole provider down: every request served by the other, the provider's circuit opens", async () => {
    groq.behaviour.down = true;
    const sent = await send(20);
    expect(served(sent)).toBe(1);
    expect(slowest(sent)).toBeLessThan(1_000);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    expect(rows[0]!.attempts![0]).toMatchObject({ model: `groq/${GROQ_70B}`, outcome: "upstream_unreachable" });
    expect(triedGroq(rows)).toBeLessThanOrEqual(3);
    expect(await storage.redis.hGet(`${storage.prefix}:health:transitions`, "provider:groq|open")).toBe("1");
  });

  it("a timeout: the slow model costs at most two timeouts per request until its circuit opens", async () => {
    groq.behaviour.perModel = { [GROQ_70B]: { latencyMs: TIMEOUT_MS * 3 } };
    const sent = await send(12);
    expect(served(sent)).toBe(1);
    expect(slowest(sent)).toBeLessThan(2 * TIMEOUT_MS + 600);
    expect(sent.slice(-6).every((s) => s.ms < TIMEOUT_MS)).toBe(true);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    expect(rows[0]!.attempts!.map((a) => a.outcome)).toEqual(["upstream_timeout", "upstream_timeout", "ok"]);
  });

  it("a slow first byte on a stream: nothing has reached the client, so it falls back and streams in full", async () => {
    groq.behaviour.perModel = { [GROQ_70B]: { firstTokenMs: TIMEOUT_MS * 3 } };
    const sent = await send(8, { stream: true });
    expect(served(sent)).toBe(1);
    expect(sent.every((s) => s.body.trimEnd().endsWith("data: [DONE]"))).toBe(true);
    expect(slowest(sent)).toBeLessThan(2 * TIMEOUT_MS + 600);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    expect(rows[0]!.attempts![0]!.outcome).toBe("upstream_timeout");
    expect(rows.every((row) => !row.truncated)).toBe(true);
  });

  it("a stream cut after 3 chunks: the client gets an error event, the row says truncated, and the circuit opens", async () => {
    groq.behaviour.perModel = { [GROQ_70B]: { breakAfterChunks: 3 } };
    const sent = await send(20, { stream: true }, 20);
    const cut = sent.filter((s) => s.body.includes('"code":"upstream_stream_broken"'));
    expect(cut.length).toBeGreaterThanOrEqual(3);
    expect(cut.length).toBeLessThanOrEqual(5); // 3 to open, and what was in flight while the batch carried the news
    expect(served(sent)).toBe((20 - cut.length) / 20);
    expect(sent.slice(-10).every((s) => s.body.trimEnd().endsWith("data: [DONE]"))).toBe(true);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    const truncated = rows.filter((row) => row.truncated);
    expect(truncated.map((row) => row.request_id).sort()).toEqual(cut.map((s) => s.id).sort());
    expect(truncated.every((row) => row.error_code === "upstream_stream_broken" && row.model === `groq/${GROQ_70B}`)).toBe(true);
  });

  it("malformed JSON: an unreadable answer is retried, then the next model answers", async () => {
    groq.behaviour.perModel = { [GROQ_70B]: { malformed: true } };
    const json = await send(6);
    const streamed = await send(2, { stream: true });
    expect(served([...json, ...streamed])).toBe(1);
    const rows = await rowsOf([...json, ...streamed]);
    expectCompleteAttempts(rows);
    expect(rows[0]!.attempts!.map((a) => a.outcome)).toEqual(["upstream_bad_response", "upstream_bad_response", "ok"]);
  });

  it("a 429 with Retry-After: the router waits as asked, once, and the same model answers", async () => {
    groq.behaviour.errorStatus = 429;
    groq.behaviour.retryAfter = "1";
    groq.behaviour.failFirst = 1;
    const sent = await send(5);
    expect(served(sent)).toBe(1);
    expect(sent[0]!.ms).toBeGreaterThanOrEqual(950);
    expect(sent[0]!.ms).toBeLessThan(1_800);
    expect(sent.slice(1).every((s) => s.ms < 500)).toBe(true);
    const rows = await rowsOf(sent);
    expectCompleteAttempts(rows);
    expect(
      rows[0]!.attempts!.map((a) => `${a.model} ${a.outcome}`),
      JSON.stringify(sent.map((s) => s.attempts)),
    ).toEqual([`groq/${GROQ_70B} upstream_rate_limited`, `groq/${GROQ_70B} ok`]);
  });

  it("flapping: a model that goes down and up every 600 ms never costs a request", async () => {
    const flap = setInterval(() => {
      const down = groq.behaviour.perModel[GROQ_70B]?.errorStatus === undefined;
      groq.behaviour.perModel = { [GROQ_70B]: down ? { errorStatus: 503 } : {} };
    }, 600);
    try {
      const sent = await send(40, {}, 50);
      expect(served(sent)).toBe(1);
      expect(slowest(sent)).toBeLessThan(1_000);
      const rows = await rowsOf(sent);
      expectCompleteAttempts(rows);
      expect(rows.some((row) => row.attempts!.some((a) => a.outcome === "upstream_error"))).toBe(true);
    } finally {
      clearInterval(flap);
    }
  });
});
