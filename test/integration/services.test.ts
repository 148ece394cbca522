/**
 * Services are built per config and passed in: two configs in one process (as in
 * tests, or a worker serving two environments) never share a batch, a store's health
 * or a cache. Run in Node against the real stack, through the production drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/audit/record.ts";
import { parseConfig } from "../../src/config/env.ts";
import type { AfterWork } from "../../src/pipeline/after-response.ts";
import { buildServices } from "../../src/services/index.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
beforeAll(async () => {
  storage = await startTestStorage();
});
afterAll(async () => {
  await storage.redis.del([`${storage.prefix}b:audit:queue`, `${storage.prefix}b:audit:seq`]).catch(() => {});
  await storage.close();
});

function work(requestId: string): AfterWork {
  const record: AuditRecord = {
    seq: null,
    request_id: requestId,
    ts: new Date().toISOString(),
    constitutional_hash: "cdd01ef066bc6cf2",
    key_id: null,
    tier: 1,
    score: 0.1,
    model: "groq/llama-3.1-8b-instant",
    provider: "groq",
    fallbacks_tried: [],
    cache_status: "BYPASS",
    http_status: 200,
    error_code: null,
    prompt_tokens: 1,
    completion_tokens: 1,
    cost_usd: 0,
    latency_ms: 1,
    upstream_ms: 1,
    overhead_ms: 0,
    streamed: false,
    truncated: false,
    request_sha256: null,
  };
  const finished = { ...record, status: 200, cache: "BYPASS" as const, latencyMs: 1, overheadMs: 0, upstreamMs: 1 };
  return {
    record,
    finished: {
      ...finished,
      firstTokenMs: undefined,
      promptTokens: 1,
      completionTokens: 1,
      classes: { cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0, reasoning: 0 },
      costMicros: 0,
      attempts: [],
      compliant: true,
    },
    brokeMidStream: false,
    owner: "",
  };
}

describe("services per config", () => {
  it("a batch open under one config never carries another config's work", async () => {
    const a = buildServices(parseConfig(storage.bindings));
    const b = buildServices(parseConfig({ ...storage.bindings, KEY_PREFIX: `${storage.prefix}b` }));
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    // Both within one batch's wait: a batch shared across configs would send both with the first config.
    await Promise.all([a.batcher.afterResponse(work(first)), b.batcher.afterResponse(work(second))]);
    const queued = async (prefix: string) =>
      (await storage.redis.lRange(`${prefix}:audit:queue`, 0, -1)).map((item) => (JSON.parse(item) as AuditRecord).request_id);
    expect(await queued(storage.prefix)).toContain(first);
    expect(await queued(storage.prefix)).not.toContain(second);
    expect(await queued(`${storage.prefix}b`)).toEqual([second]);
  });

  it("each config's services see their own stores' health", async () => {
    const up = buildServices(parseConfig(storage.bindings));
    const down = buildServices(parseConfig({ ...storage.bindings, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }));
    await down.responseCache.read("absent");
    await up.responseCache.read("absent");
    expect(down.stores.seemsDown("redis")).toBe(true);
    expect(up.stores.seemsDown("redis")).toBe(false);
  });
});
