/**
 * What a request costs in Redis, counted where Upstash counts it (the local Upstash
 * endpoint, each command of a pipeline counted): each path within its budget
 * (scripts/bench/cost.ts), and none of its work left out to get there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetedCommands, COMMAND_BUDGET, measurePath } from "../../scripts/bench/cost.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const N = 12;

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider(storage.bindings);
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

const queued = () => storage.redis.lLen(`${storage.prefix}:audit:queue`);
const cached = async () => (await storage.redis.keys(`${storage.prefix}:cache:*`)).length;

/** The after-response batch of the requests sent so far has reached Redis. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 300));

async function send(headers: Record<string, string> = {}): Promise<void> {
  const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("budget")), headers);
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

describe("Redis commands per request", () => {
  it("a miss sends at most the budget's commands, and still queues its record and caches its answer", async () => {
    await send(); // the isolate's first request also reads the circuits
    await settled();
    const [queuedBefore, cachedBefore] = [await queued(), await cached()];
    const cost = await measurePath(storage.stack, N, 1, () => send());
    expect(budgetedCommands(cost)).toBeLessThanOrEqual(COMMAND_BUDGET.miss);
    // Each request reads and writes the cache; requests close in time share a batch's INCRBY, EVALSHA and RPUSH.
    expect(cost.byCommand).toMatchObject({ GET: 1, SET: 1 });
    for (const shared of ["INCRBY", "EVALSHA", "RPUSH"]) expect(cost.byCommand[shared]).toSatisfy((n: number) => n > 0 && n <= 1);
    // Scripts go by their hash once Redis knows them: never their text.
    expect(cost.byCommand.EVAL).toBeUndefined();
    expect((await queued()) - queuedBefore).toBe(N);
    expect((await cached()) - cachedBefore).toBe(N);
  });

  it("a miss with a client key sends at most its budget, limits and budget included", async () => {
    const made = await app.router.post(
      "/v1/admin/keys",
      { name: "budget", tenant: "budget", rpm: 1_000, tpm: 1_000_000, daily_budget_usd: 100 },
      { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` },
    );
    const { key } = (await made.json()) as { key: string };
    await send({ authorization: `Bearer ${key}` });
    await settled();
    const queuedBefore = await queued();
    const cost = await measurePath(storage.stack, N, 1, () => send({ authorization: `Bearer ${key}` }));
    expect(budgetedCommands(cost)).toBeLessThanOrEqual(COMMAND_BUDGET["miss with a key"]);
    // The limits and the budget ran, by lease: the request's share of its batch's script (which also counts its spend
    // and corrects its tokens), and now and then a slice of the key's requests, tokens and money (request-leases.ts,
    // allowances.ts); no longer four scripts a request of their own.
    expect(cost.byCommand.EVALSHA).toSatisfy((n: number) => n > 0.5 && n <= 1.5);
    expect(cost.byCommand.EVAL).toBeUndefined();
    expect((await queued()) - queuedBefore).toBe(N);
    const usage = await app.router.fetch("/v1/usage", { headers: { authorization: `Bearer ${key}` } });
    expect(usage.status).toBe(200);
  });
});
