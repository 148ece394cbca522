/**
 * Money as a property (fast-check, seeded): random sequences of what a hostile client
 * and a misbehaving provider do to one key (answers, streams cut at random points by
 * either side, fallbacks, lying usage, provider errors, cache hits, bursts), with the
 * invariants checked after every step against the real stack:
 * - spend never passes the budget;
 * - spend equals the sum of the audit rows' cost_usd, to the micro-dollar;
 * - every request a provider answered, in full or cut, is charged at least its prompt;
 * - the tokens debited from the key's tokens per minute are at least the tokens used.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findModel, loadRegistry } from "../../src/routing/registry.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const registry = loadRegistry(undefined);
const BUDGET_MICROS = 20_000;

beforeAll(async () => {
  storage = await startTestStorage();
  // Breakers off: one step's failures must not move the next step's routing (breakers.test covers them).
  app = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true", BREAKER_FAILURES: "0" });
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

type Step =
  | { kind: "answer" | "stream" | "error" | "burst"; tier: number }
  | { kind: "client cut" | "provider cut"; tier: number; after: number }
  | { kind: "lying usage"; tier: number; usage: Record<string, number> }
  | { kind: "fallback"; tier: number }
  | { kind: "hit" };

const tier = fc.integer({ min: 1, max: 5 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom("answer", "stream", "error", "burst"), tier }),
  fc.record({ kind: fc.constantFrom("client cut", "provider cut"), tier, after: fc.integer({ min: 1, max: 10 }) }),
  fc.record({
    kind: fc.constant("lying usage"),
    tier,
    usage: fc.record({ prompt_tokens: fc.constantFrom(-50, 0, 1, 1e9, 1e15), completion_tokens: fc.constantFrom(-5, 0, 1, 1e9) }),
  }),
  fc.record({ kind: fc.constant("fallback"), tier }),
  fc.record({ kind: fc.constant("hit") }),
) as fc.Arbitrary<Step>;

async function makeKey(): Promise<{ id: string; key: string }> {
  const response = await app.router.fetch("/v1/admin/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "property", daily_budget_usd: BUDGET_MICROS / 1e6, tpm: 200_000 }),
  });
  return response.json();
}

/** Runs one step; says how many requests it made. */
async function run(step: Step, key: string, asked: Record<string, unknown>[]): Promise<number> {
  app.reset();
  const headers = { authorization: `Bearer ${key}` };
  const body = (extra: Record<string, unknown> = {}) => {
    const made = chat(uniquePrompt("property"), { model: `tier:${"tier" in step ? step.tier : 1}`, max_tokens: 40, ...extra });
    asked.push(made);
    return made;
  };
  const send = async (made: Record<string, unknown>) => (await app.router.post("/v1/chat/completions", made, headers)).arrayBuffer();
  Object.assign(app.fake.behaviour, { completionTokens: 12, tokenIntervalMs: 2 });
  switch (step.kind) {
    case "answer":
      await send(body());
      return 1;
    case "stream":
      await send(body({ stream: true }));
      return 1;
    case "error":
      app.fake.behaviour.errorStatus = 500;
      await send(body());
      return 1;
    case "burst":
      await Promise.all([body(), body(), body()].map(send));
      return 3;
    case "provider cut":
      app.fake.behaviour.breakAfterChunks = step.after;
      await send(body({ stream: true }));
      return 1;
    case "client cut": {
      const client = new AbortController();
      const response = await fetch(`${app.router.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body({ stream: true })),
        signal: client.signal,
      });
      const reader = response.body!.getReader();
      for (let i = 0; i < step.after; i++) if ((await reader.read()).done) break;
      client.abort();
      await reader.cancel().catch(() => {});
      return 1;
    }
    case "lying usage":
      app.fake.behaviour.usage = step.usage;
      await send(body());
      return 1;
    case "fallback": {
      const probe = await (await app.router.post("/v1/route", chat("fallback", { model: `tier:${step.tier}` }), headers)).json();
      app.fake.behaviour.failModels = [findModel(registry, probe.model)!.upstream_model];
      app.fake.behaviour.errorStatus = 503;
      await send(body());
      return 2; // the /v1/route request leaves its own row
    }
    case "hit":
      await send(asked[0] ?? body());
      return 1;
  }
}

async function invariants(keyId: string, requests: number): Promise<void> {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  const read = async () => {
    await app.router.scheduled();
    const rows = (await auditRows(storage.db)).filter((row) => row.key_id === keyId);
    const answered = rows.filter((row) => (row.attempts as { outcome: string }[] | null)?.some((attempt) => attempt.outcome === "ok"));
    return {
      rows,
      answered,
      spent: Number((await storage.redis.get(`${storage.prefix}:spend:key:${keyId}:d:${day}`)) ?? 0),
      micros: rows.reduce((sum, row) => sum + Math.round(Number(row.cost_usd ?? 0) * 1e6), 0),
      used: answered.reduce((sum, row) => sum + Number(row.prompt_tokens) + Number(row.completion_tokens), 0),
      debited: Number((await storage.redis.hGet(`${storage.prefix}:limit:tokens:${keyId}`, "d")) ?? 0),
    };
  };
  // Settling runs after each answer: wait for it (a broken invariant stays broken, and fails below).
  const deadline = Date.now() + 10_000;
  let seen = await read();
  while ((seen.rows.length < requests || seen.spent !== seen.micros || seen.debited < seen.used) && Date.now() < deadline) seen = await read();
  expect(seen.rows).toHaveLength(requests);
  expect(seen.spent).toBe(seen.micros);
  expect(seen.micros).toBeLessThanOrEqual(BUDGET_MICROS);
  for (const row of seen.answered) {
    expect(Number(row.prompt_tokens), String(row.request_id)).toBeGreaterThan(0);
    expect(Number(row.cost_usd), String(row.request_id)).toBeGreaterThan(0);
  }
  expect(seen.debited).toBeGreaterThanOrEqual(seen.used);
}

describe("money, as a property of any sequence of faults", () => {
  it("keeps every invariant after every step", { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 6 }), async (steps) => {
        const { id, key } = await makeKey();
        const asked: Record<string, unknown>[] = [];
        let requests = 0;
        for (const next of steps) {
          requests += await run(next, key, asked);
          await invariants(id, requests);
        }
      }),
      { numRuns: 40, seed: 22, endOnFailure: true },
    );
  });
});
