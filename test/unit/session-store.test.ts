import { describe, expect, it } from "vitest";
import { type AuditRecord, hasValidHmac, recordFromRow, signRecord } from "../../src/audit/record.ts";
import { createSessionStore, SESSION_MEMORY_SECONDS } from "../../src/cache/session-store.ts";
import { hmacSigner } from "../../src/crypto/digest.ts";
import type { RememberedSession } from "../../src/routing/affinity.ts";

const tracked = <T>(_store: "redis" | "postgres", call: () => Promise<T>): Promise<T> => call();
const session: RememberedSession = { model: "openrouter/anthropic/claude-sonnet-4", tier: 4, cacheUntil: 1_300_000, promptTokens: 58_000 };

/** A Redis of one map: what `get` answers, and how often it was asked. */
function fakeRedis(values: Record<string, unknown>, fail = false) {
  const asked: string[] = [];
  return {
    asked,
    redis: {
      get: async <T>(key: string): Promise<T | null> => {
        asked.push(key);
        if (fail) throw new Error("timed out");
        return (values[key] ?? null) as T | null;
      },
    },
  };
}

describe("the session store", () => {
  it("keeps what it remembers in the isolate at once, and hands the Redis write to the batch with a TTL of at least an hour", () => {
    const { redis, asked } = fakeRedis({});
    const store = createSessionStore({ keyPrefix: "tg", redis: redis as never, tracked, clock: () => 1_000_000 });
    const write = store.remember({ local: "l1", digest: "d1" }, session);
    expect(store.inIsolate("l1")).toEqual({ remembered: session, digest: "d1" });
    expect(write).toEqual({ key: "tg:session:d1", value: JSON.stringify(session), ttlSeconds: SESSION_MEMORY_SECONDS });
    // An hour's cache that outlives the memory keeps the session as long.
    expect(store.remember({ local: "l2", digest: "d2" }, { ...session, cacheUntil: 1_000_000 + 2 * 3_600_000 }).ttlSeconds).toBe(7_200);
    expect(asked).toEqual([]);
  });

  it("reads Redis for a session the isolate does not know, and keeps it in the isolate", async () => {
    const { redis, asked } = fakeRedis({ "tg:session:d1": JSON.stringify(session) });
    const store = createSessionStore({ keyPrefix: "tg", redis: redis as never, tracked });
    expect(store.inIsolate("l1")).toBeUndefined();
    expect(await store.read({ local: "l1", digest: "d1" })).toEqual(session);
    expect(store.inIsolate("l1")).toEqual({ remembered: session, digest: "d1" });
    await store.read({ local: "l1", digest: "d1" });
    expect(asked).toEqual(["tg:session:d1"]);
  });

  it("treats a failed read, an unreadable value and no Redis at all as a session it does not know", async () => {
    expect(
      await createSessionStore({ keyPrefix: "tg", redis: fakeRedis({}, true).redis as never, tracked }).read({ local: "l1", digest: "d1" }),
    ).toBeUndefined();
    const junk = fakeRedis({ "tg:session:a": "{not json", "tg:session:b": JSON.stringify({ model: "m", tier: 9, cacheUntil: 1, promptTokens: 1 }) });
    const store = createSessionStore({ keyPrefix: "tg", redis: junk.redis as never, tracked });
    expect(await store.read({ local: "a", digest: "a" })).toBeUndefined();
    expect(await store.read({ local: "b", digest: "b" })).toBeUndefined();
    expect(await createSessionStore({ keyPrefix: "tg", redis: undefined, tracked }).read({ local: "l1", digest: "d1" })).toBeUndefined();
  });
});

describe("the audit record's session fields", () => {
  const record: AuditRecord = {
    seq: 7,
    request_id: "0f5e2d6c-0000-4000-8000-000000000007",
    ts: "2026-12-07T16:00:00.000Z",
    constitutional_hash: "cdd01ef066bc6cf2",
    key_id: "k1",
    tier: 4,
    score: 0.2,
    model: "m",
    provider: "groq",
    fallbacks_tried: ["m"],
    cache_status: "MISS",
    http_status: 200,
    error_code: null,
    prompt_tokens: 10,
    completion_tokens: 5,
    cost_usd: 0.000001,
    latency_ms: 30,
    upstream_ms: 25,
    overhead_ms: 5,
    streamed: false,
    truncated: false,
    request_sha256: null,
  };
  const sign = hmacSigner("k".repeat(32));
  const row = (signed: AuditRecord, extra: Record<string, unknown>) => ({ session: null, affinity: null, ...signed, ...extra });

  it("are signed: a row read back verifies, and one whose session or affinity changed does not", async () => {
    const withSession = { ...record, session: "a".repeat(32), affinity: "kept" };
    const { hmac } = await signRecord(withSession, sign);
    const read = recordFromRow(row(withSession, { hmac }));
    expect(read.record).toEqual(withSession);
    expect(await hasValidHmac(read.record, hmac, sign)).toBe(true);
    expect(await hasValidHmac(recordFromRow(row(withSession, { hmac, affinity: "moved" })).record, hmac, sign)).toBe(false);
  });

  it("leave a row signed before them verifying: their null columns stay out of the record", async () => {
    const { hmac } = await signRecord(record, sign);
    const read = recordFromRow(row(record, { hmac }));
    expect(read.record).not.toHaveProperty("session");
    expect(await hasValidHmac(read.record, hmac, sign)).toBe(true);
  });
});
