/**
 * The audit log under hostile and unlucky traffic (what an outside probe broke): a
 * provider's absurd usage, a poisoned record in the queue, a stalled flush, numbers
 * issued but never stored, concurrent requests, and clients that hang up.
 */

import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { findModel, loadRegistry } from "../../src/routing/registry.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fake: FakeUpstream;
let router: Router;

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, UPSTREAM_TIMEOUT_MS: "1500", AUDIT_QUEUE_MAX_AGE_SECONDS: "1" });
  ({ fake, router } = stack);
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => stack.reset());

const queueKey = () => `${storage.prefix}:audit:queue`;
const counterKey = () => `${storage.prefix}:audit:seq`;
const asAdmin = () => ({ headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const verify = async () =>
  verifyAudit(async (text, params) => (await storage.db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!, {
    counter: Number(await storage.redis.get(counterKey())),
    queued: [],
  });

async function send(body: Record<string, unknown>): Promise<string> {
  const response = await router.post("/v1/chat/completions", body);
  await response.arrayBuffer();
  return response.headers.get("x-request-id")!;
}

/** Flushes until every given request has its row; returns the rows by request id. */
async function rowsFor(ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    await router.scheduled();
    const rows = new Map((await auditRows(storage.db)).map((row) => [String(row.request_id), row]));
    if (ids.every((id) => rows.has(id)) || Date.now() > deadline) return rows;
    await sleep(50);
  }
}

describe("usage a provider should never report", () => {
  it("clamps 1e15 tokens to what can have been used, records that it did, and keeps the flush moving for every record after it", async () => {
    fake.behaviour.usage = { prompt_tokens: 1e15, completion_tokens: 1e15, total_tokens: 2e15 };
    const huge = await send(chat(uniquePrompt("huge")));
    stack.reset();
    const after = await Promise.all([1, 2, 3].map(() => send(chat(uniquePrompt("after")))));
    const rows = await rowsFor([huge, ...after]);
    const row = rows.get(huge)!;
    // The prompt is bounded by what was sent (three tokens a character at most); the answer, with no max_tokens, by the context window.
    const window = findModel(loadRegistry(undefined), String(row.model))!.context_window;
    expect(Number(row.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(row.prompt_tokens)).toBeLessThan(1_000);
    expect(Number(row.completion_tokens)).toBe(window);
    expect(row.usage_adjusted).toEqual([
      "usage.prompt_tokens 1000000000000000 exceeds 1000000000: clamped",
      "usage.completion_tokens 1000000000000000 exceeds 1000000000: clamped",
      `usage.prompt_tokens 1000000000 is more than can have been used: clamped to ${row.prompt_tokens}`,
      `usage.completion_tokens 1000000000 is more than can have been used: clamped to ${window}`,
    ]);
    for (const id of after) expect(rows.has(id), id).toBe(true);
    expect(await storage.redis.lLen(queueKey())).toBe(0);
    expect(isClean(await verify())).toBe(true);
  });

  it("replaces negative usage with the router's own count, so no answer is free", async () => {
    fake.behaviour.usage = { prompt_tokens: -500, completion_tokens: -10 };
    const response = await router.post("/v1/chat/completions", chat(uniquePrompt("negative")));
    const cost = Number(response.headers.get("x-tiergate-cost-usd"));
    expect(cost).toBeGreaterThan(0);
    const id = response.headers.get("x-request-id")!;
    const row = (await rowsFor([id])).get(id)!;
    expect(Number(row.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(row.completion_tokens)).toBeGreaterThan(0);
    expect(Number(row.cost_usd)).toBe(cost);
    expect(row.usage_adjusted).toEqual([
      "usage.prompt_tokens -500 is negative: counted as 0",
      "usage.completion_tokens -10 is negative: counted as 0",
      expect.stringMatching(/^usage\.prompt_tokens 0 is far below what was used: counted as \d+$/),
      expect.stringMatching(/^usage\.completion_tokens 0 is far below what was used: counted as \d+$/),
    ]);
  });
});

describe("a poisoned record among good ones", () => {
  it("lands the good records, quarantines the poisoned one with its number, and verification accounts for it", async () => {
    const before = await Promise.all(Array.from({ length: 10 }, () => send(chat(uniquePrompt("good")))));
    // Wait until the good records are queued, then slip in a record Postgres cannot store,
    // numbered by the real counter as the router would have numbered it.
    const deadline = Date.now() + 5_000;
    while ((await storage.redis.lLen(queueKey())) < 10 && Date.now() < deadline) await sleep(20);
    const poisonSeq = await storage.redis.incr(counterKey());
    const poison = { seq: poisonSeq, request_id: crypto.randomUUID(), ts: new Date().toISOString(), prompt_tokens: 1e30, http_status: 200 };
    await storage.redis.rPush(queueKey(), [JSON.stringify(poison), "not json at all"]);
    const afterIds = await Promise.all(Array.from({ length: 10 }, () => send(chat(uniquePrompt("good")))));
    const rows = await rowsFor([...before, ...afterIds]);
    for (const id of [...before, ...afterIds]) expect(rows.has(id), id).toBe(true);
    expect(await storage.redis.lLen(queueKey())).toBe(0);

    const quarantine = (await storage.db.query("SELECT seq, request_id, error FROM audit_quarantine ORDER BY seq NULLS LAST")).rows;
    expect(quarantine.map((q) => (q.seq === null ? null : Number(q.seq)))).toEqual([poisonSeq, null]);
    expect(quarantine[0]!.request_id).toBe(poison.request_id);
    expect(quarantine[0]!.error).toMatch(/bigint/);

    const report = await verify();
    expect(report.gaps).toEqual([]);
    expect(report.issued?.missing).toEqual([]);
    expect(report.quarantined.map((q) => q.seq)).toEqual([poisonSeq, null]);
    expect(isClean(report)).toBe(true);

    const cli = await runScript(storage, "audit:verify");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`QUARANTINED: seq ${poisonSeq} request ${poison.request_id}`);
  });
});

describe("a stalled flush and numbers issued but never stored", () => {
  it("/health reports the queue's depth and oldest age, degraded past the threshold, and ok once flushed", async () => {
    await router.scheduled();
    await send(chat(uniquePrompt("waits in the queue")));
    await sleep(2_100);
    const stalled = await (await router.fetch("/health", asAdmin())).json();
    expect(stalled.status).toBe("degraded");
    expect(stalled.audit.flush_stalled).toBe(true);
    expect(stalled.audit.queue.depth).toBeGreaterThanOrEqual(1);
    expect(stalled.audit.queue.oldest_age_seconds).toBeGreaterThanOrEqual(2);
    expect((await (await router.fetch("/health")).json()).status).toBe("degraded");
    await router.scheduled();
    const flushed = await (await router.fetch("/health", asAdmin())).json();
    expect(flushed.audit.queue).toEqual({ depth: 0, oldest_age_seconds: 0 });
    expect(flushed.status).toBe("ok");
  });

  it("names numbers Redis issued that no store holds, and audit:verify exits 1 promptly", async () => {
    await rowsFor([await send(chat(uniquePrompt("stored")))]);
    expect(isClean(await verify())).toBe(true);
    const issued = await storage.redis.incrBy(counterKey(), 3);
    const report = await verify();
    expect(report.issued?.missing).toEqual([{ from: issued - 2, to: issued }]);
    expect(isClean(report)).toBe(false);
    const started = Date.now();
    const cli = await runScript(storage, "audit:verify");
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`ISSUED, NOT STORED: seq ${issued - 2}-${issued}`);
    // Put the counter back where the stored rows are, for the tests after this one.
    await storage.redis.decrBy(counterKey(), 3);
  });
});

describe("many requests at once", () => {
  it("serves 60 concurrent requests, streamed and not, with no request waiting on another's context, and stores every record", async () => {
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => router.post("/v1/chat/completions", chat(uniquePrompt("burst"), { stream: i % 2 === 0 }))),
    );
    const ids = await Promise.all(
      responses.map(async (r) => {
        await r.text();
        return r.headers.get("x-request-id")!;
      }),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(60).fill(200));
    const rows = await rowsFor(ids);
    for (const id of ids) expect(rows.has(id), id).toBe(true);
    expect(router.logs.filter((line) => /different request context|hung|canceled/i.test(line))).toEqual([]);
  });
});

describe("a client that hangs up", () => {
  it("in the middle of its request body is recorded as a client disconnect (499), not a 500", async () => {
    const before = new Set((await auditRows(storage.db)).map((r) => String(r.request_id)));
    await new Promise<void>((resolve) => {
      const url = new URL(`${router.url}/v1/chat/completions`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": "5000" },
      });
      req.on("error", () => resolve());
      req.write('{"model":"auto","messages":[{"role":"user","content":"half');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    const row = await newRow(before);
    expect(row).toMatchObject({ http_status: 499, error_code: "client_disconnected" });
  });
});

async function newRows(before: Set<string>, count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    await router.scheduled();
    const rows = (await auditRows(storage.db)).filter((r) => !before.has(String(r.request_id)));
    if (rows.length >= count || Date.now() > deadline) return rows;
    await sleep(50);
  }
}

async function newRow(before: Set<string>): Promise<Record<string, unknown>> {
  const [row] = await newRows(before, 1);
  expect(row).toBeDefined();
  return row!;
}
