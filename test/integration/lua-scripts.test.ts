/**
 * The Lua scripts go by hash: each pinned SHA-1 is the SHA-1 of the script's text (what
 * Redis and Upstash compute), and a Redis that has never seen a script (a new or flushed
 * one) is sent its text once, through the same Upstash REST endpoint the worker uses.
 * Each declares `allow-key-locking`, so Upstash locks only its keys, not the whole
 * database; the local endpoint refuses, as Upstash would, a key such a script touches
 * that is not in KEYS.
 */
import { createHash } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RAISE_COUNTER } from "../../src/audit/flush.ts";
import { BATCH_SCRIPT } from "../../src/pipeline/batch-script.ts";
import { ALLOWANCE_LEASE, TOKEN_PEEK } from "../../src/security/allowance-script.ts";
import { FAILED_CHECK } from "../../src/security/failed-checks.ts";
import { REQUEST_LEASE } from "../../src/security/request-leases.ts";
import { runScript } from "../../src/storage/scripts.ts";
import { COPY_UNLESS_DELETED, WAS_DELETED } from "../../src/surfaces/openai-responses/copies.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  app = await startWithFakeProvider(storage.bindings);
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

const SCRIPTS = { BATCH_SCRIPT, ALLOWANCE_LEASE, FAILED_CHECK, RAISE_COUNTER, TOKEN_PEEK, REQUEST_LEASE, COPY_UNLESS_DELETED, WAS_DELETED };

describe("Lua scripts by hash", () => {
  it.each(Object.entries(SCRIPTS))("%s's pinned hash is its text's, and it locks only its keys", async (_name, script) => {
    expect(createHash("sha1").update(script.source).digest("hex")).toBe(script.sha1);
    expect(script.source).toMatch(/^#!lua flags=(\S+,)?allow-key-locking\n/);
  });

  it("refuses a key a script with allow-key-locking touches and does not declare, and lets a declared one through", async () => {
    const redis = new Redis({
      url: storage.bindings.UPSTASH_REDIS_REST_URL!,
      token: storage.bindings.UPSTASH_REDIS_REST_TOKEN!,
      automaticDeserialization: false,
    });
    const declared = `${storage.prefix}:declared`;
    const script = (body: string) => `#!lua flags=allow-key-locking\n${body}`;
    expect(await redis.eval(script("redis.call('SET', KEYS[1], 'v') return redis.call('GET', KEYS[1])"), [declared], [])).toBe("v");
    await expect(redis.eval(script("return redis.call('GET', ARGV[1])"), [declared], [`${storage.prefix}:elsewhere`])).rejects.toThrow(/not in KEYS/);
    await expect(redis.eval(script("return redis.call('MGET', KEYS[1], ARGV[1])"), [declared], [`${storage.prefix}:elsewhere`])).rejects.toThrow(/not in KEYS/);
    // A script without the flag runs under Upstash's global lock and may touch any key.
    expect(await redis.eval("return redis.call('GET', ARGV[1])", [], [declared])).toBe("v");
  });

  it("runs by EVALSHA, and sends the text only when Redis answers NOSCRIPT", async () => {
    await storage.redis.scriptFlush();
    const redis = new Redis({
      url: storage.bindings.UPSTASH_REDIS_REST_URL!,
      token: storage.bindings.UPSTASH_REDIS_REST_TOKEN!,
      automaticDeserialization: false,
    });
    const key = `${storage.prefix}:audit:seq`;
    storage.stack.resetTraffic();
    expect(Number(await runScript(redis, RAISE_COUNTER, [key], ["41"]))).toBe(0);
    expect(storage.stack.traffic().redis?.commands).toEqual({ EVALSHA: 1, EVAL: 1 });
    storage.stack.resetTraffic();
    expect(Number(await runScript(redis, RAISE_COUNTER, [key], ["7"]))).toBe(41);
    expect(storage.stack.traffic().redis?.commands).toEqual({ EVALSHA: 1 });
  });

  it("the after-response batch lands in a Redis that lost its scripts: the rest of the pipeline, then the script's text", async () => {
    await storage.redis.scriptFlush();
    const counters = `${storage.prefix}:metrics:counters`;
    const [queuedBefore, countedBefore] = [await storage.redis.lLen(`${storage.prefix}:audit:queue`), await storage.redis.hLen(counters)];
    storage.stack.resetTraffic();
    const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("noscript")), { "cache-control": "no-store" });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storage.redis.lLen(`${storage.prefix}:audit:queue`)).toBe(queuedBefore + 1);
    expect(await storage.redis.hLen(counters)).toBeGreaterThan(countedBefore);
    expect(storage.stack.traffic().redis?.commands).toMatchObject({ EVALSHA: 1, EVAL: 1 });
  });

  it("a key's first request, its scripts held in one pipeline, lands in a Redis that lost them: each is sent again by its text", async () => {
    const made = await app.router.fetch("/v1/admin/keys", {
      method: "POST",
      headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "noscript", rpm: 100, daily_budget_usd: 1 }),
    });
    const { key } = (await made.json()) as { key: string };
    await storage.redis.scriptFlush();
    storage.stack.resetTraffic();
    const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("noscript key")), { authorization: `Bearer ${key}` });
    // Budgets fail closed: a 200 is the money slice granted; the requests headers, the requests slice.
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("100");
    expect(Number(response.headers.get("x-ratelimit-remaining-requests"))).toBeLessThan(100);
    await response.arrayBuffer();
    // The requests lease and the allowance lease, each by its text after its NOSCRIPT (and the batch's, after the answer).
    expect(storage.stack.traffic().redis?.commands?.EVAL).toBeGreaterThanOrEqual(2);
  });
});
