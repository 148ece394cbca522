/**
 * The isolate's memory stays bounded while the stores are away: with Redis and
 * Postgres configured but unreachable, many more requests than any bound go through,
 * and what the isolate keeps (held audit records, waiting metric increments, cached
 * answers) stops at its bound instead of growing with the traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";

const ADMIN = "admin-key-memory-0123456789";
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;

beforeAll(async () => {
  // Nothing listens on port 9: every store call is refused at once.
  stack = await startWithFakeProvider({
    UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    UPSTASH_REDIS_REST_TOKEN: "unreachable-token-0123",
    DATABASE_URL: "postgres://tg:unreachable@127.0.0.1:9/tiergate",
    NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql",
    AUDIT_HMAC_KEY: "audit-key-memory-0123456789",
    ADMIN_API_KEY: ADMIN,
    REQUIRE_API_KEY: "false",
    AUDIT_HOLD_LIMIT: "50",
    CACHE_LOCAL_MAX_ENTRIES: "20",
    REDIS_TIMEOUT_MS: "200",
    POSTGRES_TIMEOUT_MS: "200",
  });
});
afterAll(() => stack.close());

const isolate = async () =>
  (await (await stack.router.fetch("/health", { headers: { authorization: `Bearer ${ADMIN}` } })).json()).isolate as {
    audit_held: number;
    audit_hold_limit: number;
    metrics_pending_series: number;
    cache_entries: number;
    cache_max_entries: number;
  };

async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) =>
      stack.router.post("/v1/chat/completions", chat(uniquePrompt("bounded"), { model: `tier:${1 + ((i + j) % 3)}` })),
    );
    for (const response of await Promise.all(batch)) {
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last after-response batches
}

describe("with Redis and Postgres unreachable", () => {
  it("keeps held records, waiting increments and cached answers within their bounds however many requests come", async () => {
    await send(120);
    const first = await isolate();
    expect(first.audit_held).toBe(50);
    expect(first.cache_entries).toBe(20);
    expect(first.metrics_pending_series).toBeGreaterThan(0);

    await send(240);
    const second = await isolate();
    expect(second).toMatchObject({ audit_held: 50, audit_hold_limit: 50, cache_entries: 20, cache_max_entries: 20 });
    // Increments wait per series, and the series are the label values seen, not the requests. Here: 3 tiers, one
    // model each, 2 providers, status 200, cache MISS. Counters: requests 3, tokens 6, spend 3, savings 3, attempts 3,
    // records 2; histograms (12 buckets + sum + count = 14 fields): duration 3 × 14, overhead 1 × 14, upstream 2 × 14.
    const bound = 3 + 6 + 3 + 3 + 3 + 2 + 14 * (3 + 1 + 2);
    expect(second.metrics_pending_series).toBeGreaterThanOrEqual(first.metrics_pending_series);
    expect(second.metrics_pending_series).toBeLessThanOrEqual(bound);
    const health = await (await stack.router.fetch("/health", { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    expect(health.audit.dropped).toBeGreaterThanOrEqual(360 - 50);
  });
});
