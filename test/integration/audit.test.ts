/** The audit log through workerd, against real Redis and Postgres: one signed record per request, provably. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { requestDigestKey } from "../../src/audit/record.ts";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { hmacSha256Hex, sha256Hex } from "../../src/crypto/digest.ts";
import { chat, type Router, startWithFakeProvider } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

const SECRET_PROMPT = "the-launch-code-is-zebra-42";
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

/** One request of each kind, made before any test, so each describe (or test) can run on its own. */
const sent: { id: string; status: number }[] = [];

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider(storage.bindings);
  ({ fake, router } = stack);
  const send = async (response: Promise<Response>): Promise<void> => {
    const r = await response;
    await r.arrayBuffer();
    sent.push({ id: r.headers.get("x-request-id")!, status: r.status });
  };
  await send(router.post("/v1/chat/completions", chat(SECRET_PROMPT)));
  await send(router.post("/v1/chat/completions", chat(SECRET_PROMPT)));
  await send(router.post("/v1/chat/completions", chat(`${SECRET_PROMPT} streamed`, { stream: true })));
  await send(router.post("/v1/route", chat("hello")));
  await send(router.post("/v1/chat/completions", chat("x", { temperature: 9 })));
  await send(router.post("/v1/chat/completions", chat("hi"), { "x-constitutional-hash": "ffffffffffffffff" }));
  await send(router.fetch("/v1/nowhere"));
  fake.behaviour.errorStatus = 500;
  await send(router.post("/v1/chat/completions", chat("upstream will fail", { model: "tier:3" })));
  stack.reset();
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => stack.reset());

/** Flushes until the log holds `count` rows (records are written after the response, in waitUntil). */
async function flushUntil(count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await router.scheduled();
    const rows = await auditRows(storage.db);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const verify = () => verifyAudit(async (text, params) => (await storage.db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!);
const admin = (query = "") => router.fetch(`/v1/audit${query}`, { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } });

describe("one record per request", () => {
  it("stores exactly one row per request, in order, numbered without gaps", async () => {
    const rows = await flushUntil(sent.length);
    expect(rows).toHaveLength(sent.length);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(sent.length);
    for (const { id, status } of sent) {
      expect(rows.find((r) => r.request_id === id)?.http_status, id).toBe(status);
    }
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200, 400, 409, 404, 502]);
  });

  it("records what happened: cache status, error codes, tokens, cost, latency, streaming", async () => {
    const rows = await flushUntil(sent.length);
    const byId = (i: number) => rows.find((r) => r.request_id === sent[i]!.id)!;
    expect(byId(0)).toMatchObject({ cache_status: "MISS", streamed: false, truncated: false, error_code: null });
    expect(Number(byId(0).cost_usd)).toBeGreaterThan(0);
    expect(Number(byId(0).prompt_tokens)).toBeGreaterThan(0);
    expect(byId(0).upstream_ms).not.toBeNull();
    expect(byId(0).fallbacks_tried).toEqual([byId(0).model]);
    // Every usage class, 0 when the provider reported none (bigint, as text).
    expect(byId(0)).toMatchObject({ cache_read_tokens: "0", cache_write_tokens: "0", cache_write_1h_tokens: "0", reasoning_tokens: "0" });
    expect(byId(4)).toMatchObject({ cache_read_tokens: null, reasoning_tokens: null });
    expect(byId(1)).toMatchObject({ cache_status: "HIT", cost_usd: 0, upstream_ms: null });
    expect(byId(2)).toMatchObject({ streamed: true, truncated: false, completion_tokens: "8" });
    expect(byId(4)).toMatchObject({ http_status: 400, error_code: "invalid_value", tier: null });
    expect(byId(5)).toMatchObject({ http_status: 409, error_code: "constitutional_hash_mismatch" });
    expect(byId(7)).toMatchObject({ http_status: 502, error_code: "upstream_error", tier: 3 });
    for (const row of rows) {
      expect(row.constitutional_hash).toBe("cdd01ef066bc6cf2");
      expect(row.latency_ms).toBeGreaterThanOrEqual(0);
      expect(row.key_id).toBeNull();
    }
  });

  it("never stores the prompt or the answer, only a keyed hash of the body as it arrived", async () => {
    const rows = await flushUntil(sent.length);
    const everything = JSON.stringify(rows);
    expect(everything).not.toContain(SECRET_PROMPT);
    expect(everything).not.toContain("token1");
    const bodyDigest = await sha256Hex(JSON.stringify(chat(SECRET_PROMPT)));
    const row = rows.find((r) => r.request_id === sent[0]!.id)!;
    // Keyed: someone holding the rows cannot confirm a guessed prompt with a plain SHA-256.
    expect(row.request_sha256).toBeNull();
    expect(row.request_hmac).not.toBe(bodyDigest);
    const digestKey = await requestDigestKey(storage.bindings.AUDIT_HMAC_KEY!);
    expect(digestKey).not.toBe(storage.bindings.AUDIT_HMAC_KEY);
    expect(row.request_hmac).toBe(await hmacSha256Hex(digestKey, bodyDigest));
    // The same bytes give the same digest: the second request sent the very same body.
    expect(rows.find((r) => r.request_id === sent[1]!.id)!.request_hmac).toBe(row.request_hmac);
  });

  it("verifies clean, then names an edited row and a deleted one", async () => {
    const rows = await flushUntil(sent.length);
    expect(isClean(await verify())).toBe(true);
    await storage.db.query("UPDATE audit_log SET cost_usd = 0 WHERE seq = 1");
    await storage.db.query("UPDATE audit_log SET cache_read_tokens = 7 WHERE seq = 2"); // a class is signed too
    await storage.db.query("DELETE FROM audit_log WHERE seq = 3");
    await storage.db.query("UPDATE audit_log SET constitutional_hash = NULL WHERE seq = 5");
    const report = await verify();
    expect(report.badHmac.map((r) => r.seq)).toEqual([1, 2, 5]);
    expect(report.gaps).toEqual([{ from: 3, to: 3 }]);
    expect(report.missingHash.map((r) => r.seq)).toEqual([5]);
    expect(report.checked).toBe(rows.length - 1);

    const cli = await runScript(storage, "audit:verify");
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/GAP: seq 3 missing/);
    expect(cli.stdout).toMatch(/BAD HMAC: seq 1 /);
    expect(cli.stdout).toMatch(/NO CONSTITUTIONAL HASH: seq 5 /);
  });
});

describe("GET /v1/audit", () => {
  beforeAll(() => flushUntil(sent.length));

  it("needs the admin key", async () => {
    expect((await router.fetch("/v1/audit")).status).toBe(401);
    const wrong = await router.fetch("/v1/audit", { headers: { authorization: "Bearer not-the-admin-key-at-all" } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.type).toBe("authentication_error");
    expect((await admin()).status).toBe(200);
  });

  it("filters by status, tier, model, request id and time", async () => {
    const all = (await (await admin("?limit=500")).json()).data as Record<string, unknown>[];
    expect(all.length).toBeGreaterThan(3);
    const only400 = (await (await admin("?status=400")).json()).data as Record<string, unknown>[];
    expect(only400.length).toBeGreaterThan(0);
    expect(only400.every((r) => r.http_status === 400)).toBe(true);
    const tier3 = (await (await admin("?tier=3")).json()).data as Record<string, unknown>[];
    expect(tier3.every((r) => r.tier === 3)).toBe(true);
    const model = String(all.find((r) => r.model !== null)!.model);
    const byModel = (await (await admin(`?model=${encodeURIComponent(model)}`)).json()).data as Record<string, unknown>[];
    expect(byModel.length).toBeGreaterThan(0);
    expect(byModel.every((r) => r.model === model)).toBe(true);
    const one = (await (await admin(`?request_id=${all[0]!.request_id}`)).json()).data as Record<string, unknown>[];
    expect(one.map((r) => r.request_id)).toEqual([all[0]!.request_id]);
    const future = (await (await admin(`?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).json()).data;
    expect(future).toEqual([]);
  });

  it("pages with a keyset cursor through every row exactly once, newest first", async () => {
    const all = (await (await admin("?limit=500")).json()).data as { request_id: string; ts: string }[];
    const seen: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { data: { request_id: string }[]; next_cursor: string | null } = await (await admin(`?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).json();
      seen.push(...page.data.map((r) => r.request_id));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(all.map((r) => r.request_id));
    expect([...all].sort((a, b) => b.ts.localeCompare(a.ts)).map((r) => r.ts)).toEqual(all.map((r) => r.ts));
  });

  it("refuses bad filters with 400 naming the parameter", async () => {
    const response = await admin("?tier=9");
    expect(response.status).toBe(400);
    expect((await response.json()).error.param).toBe("tier");
    expect((await admin("?cursor=garbage")).status).toBe(400);
  });

  it("refuses forged cursors and values Postgres cannot hold with 400, and does not take them for an outage", async () => {
    const forged = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "");
    const cases = [
      `?cursor=${forged({ ts: "not-a-time", request_id: crypto.randomUUID() })}`,
      `?cursor=${forged({ ts: new Date().toISOString(), request_id: "not-a-uuid" })}`,
      `?cursor=${forged({ ts: "0000-01-01T00:00:00Z", request_id: crypto.randomUUID() })}`,
      "?from=0000-01-01T00:00:00Z",
      "?to=99999-01-01T00:00:00Z",
      "?model=%00",
      "?key=a%00b",
    ];
    for (const query of cases) {
      const response = await admin(query);
      expect(response.status, query).toBe(400);
      expect((await response.json()).error.type, query).toBe("invalid_request_error");
      expect(response.headers.get("x-tiergate-degraded"), query).toBeNull();
    }
    const after = await admin("?limit=1");
    expect(after.status).toBe(200);
    expect(after.headers.get("x-tiergate-degraded")).toBeNull();
  });
});

describe("AUDIT_MODE=strict", () => {
  it("refuses with 503, before calling any provider, when neither Redis nor Postgres can take the record", async () => {
    const strict = await startWithFakeProvider({
      ...storage.bindings,
      AUDIT_MODE: "strict",
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
      NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql",
      REDIS_TIMEOUT_MS: "200",
      POSTGRES_TIMEOUT_MS: "200",
    });
    try {
      const response = await strict.router.post("/v1/chat/completions", chat("hi"));
      expect(response.status).toBe(503);
      expect((await response.json()).error.code).toBe("audit_unavailable");
      expect(response.headers.get("x-constitutional-hash")).toBe("cdd01ef066bc6cf2");
      expect(strict.fake.seen).toHaveLength(0);
      // Not lost: the refusal's own record waits in the isolate for a store to come back.
      let held = 0;
      for (let i = 0; i < 20 && held === 0; i++) {
        const health = await strict.router.fetch("/health", { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } });
        held = (await health.json()).audit.held;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(held).toBeGreaterThanOrEqual(1);
    } finally {
      await strict.close();
    }
  });

  it("refuses with 503 when the answer's record cannot be stored, and the record it keeps says 503, not 200", async () => {
    const own = await startTestStorage();
    // No Redis, so the record must go to Postgres; the table vanishes after the start-up check, so the write fails.
    const { UPSTASH_REDIS_REST_URL: _url, UPSTASH_REDIS_REST_TOKEN: _token, ...postgresOnly } = own.bindings;
    const strict = await startWithFakeProvider({ ...postgresOnly, AUDIT_MODE: "strict" });
    try {
      await own.db.query("ALTER TABLE audit_log RENAME TO audit_log_away");
      const response = await strict.router.post("/v1/chat/completions", chat("answered but not recorded"));
      expect(response.status).toBe(503);
      expect((await response.json()).error.code).toBe("audit_unavailable");
      expect(strict.fake.seen).toHaveLength(1);
      await own.db.query("ALTER TABLE audit_log_away RENAME TO audit_log");
      const deadline = Date.now() + 5_000;
      let rows: Record<string, unknown>[] = [];
      while (rows.length === 0 && Date.now() < deadline) {
        await strict.router.scheduled(); // retries what the isolate holds
        rows = await auditRows(own.db);
      }
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ http_status: 503, error_code: "audit_unavailable", request_id: response.headers.get("x-request-id") });
      // The record of the refusal still says what the request did: the provider was called, and where it went.
      expect(rows[0]).toMatchObject({
        model: response.headers.get("x-tiergate-model"),
        cache_status: "MISS",
        fallbacks_tried: [response.headers.get("x-tiergate-model")],
      });
      expect(rows[0]!.tier).toBe(Number(response.headers.get("x-tiergate-tier")));
      expect(rows[0]!.request_hmac).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await strict.close();
      await own.close();
    }
  });

  it("serves when the record can be made durable, and writes it before answering", async () => {
    const strict = await startWithFakeProvider({ ...storage.bindings, AUDIT_MODE: "strict" });
    try {
      const before = await storage.redis.lLen(`${storage.prefix}:audit:queue`);
      const response = await strict.router.post("/v1/chat/completions", chat("strictly audited"));
      expect(response.status).toBe(200);
      expect(await storage.redis.lLen(`${storage.prefix}:audit:queue`)).toBe(before + 1);
    } finally {
      await strict.close();
    }
  });
});

describe("a Redis that lost its data", () => {
  it("gets its counter raised above Postgres's highest number by the flush, so no number is reused", async () => {
    await flushUntil(1);
    const max = async (): Promise<number> => Number((await storage.db.query("SELECT max(seq) AS m FROM audit_log")).rows[0].m);
    const highest = await max();
    await storage.redis.del(`${storage.prefix}:audit:seq`);
    await router.scheduled();
    expect(Number(await storage.redis.get(`${storage.prefix}:audit:seq`))).toBe(highest);
    const response = await router.post("/v1/route", chat("after the loss"));
    await response.arrayBuffer();
    const deadline = Date.now() + 5_000;
    while ((await max()) === highest && Date.now() < deadline) await router.scheduled();
    expect(await max()).toBe(highest + 1);
  });
});
