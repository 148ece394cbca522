/**
 * Tokens and budgets by lease (security/allowances.ts), against real Redis through the
 * Upstash REST endpoint, with several isolates' books sharing one key, and the spend
 * counted by the after-response batch's own script. A spend slice's lease and hold are
 * shortened (300 ms, 1.2 s) to see them come back in one run; the scripts and the
 * books are the production ones.
 * - Over random interleavings of grant, spend, refill, give-back, expiry and a killed
 *   isolate: spend never passes the budget, and every unspent slice comes back.
 * - Redis down: a slice held is spent, no more; its spend is counted when Redis returns.
 * - A warm book reserves without a round trip.
 */
import { Redis } from "@upstash/redis";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiError } from "../../src/http/errors.ts";
import { BATCH_SCRIPT, batchCall } from "../../src/pipeline/batch-script.ts";
import { type Allowances, createAllowances, type Held } from "../../src/security/allowances.ts";
import { BudgetHeld, BudgetSpent, utcDay } from "../../src/security/budgets.ts";
import { ADMIN_CALLER, type Caller } from "../../src/security/caller.ts";
import { runScript, type ScriptRunner } from "../../src/storage/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";
import { switchableRedis } from "../support/switchable-redis.ts";

const LEASE_MS = 300;
const HOLD_MS = 1_200;
let storage: TestStorage;
let upstash: Redis;

beforeAll(async () => {
  storage = await startTestStorage();
  upstash = new Redis({ url: storage.bindings.UPSTASH_REDIS_REST_URL!, token: storage.bindings.UPSTASH_REDIS_REST_TOKEN!, automaticDeserialization: false });
});
afterAll(async () => {
  await storage.close();
});

const switchable = () => switchableRedis(upstash);

/** An isolate's allowances, with the refills it started in the background (`deferred` counts them). */
type Isolate = { allowances: Allowances; pending: Promise<unknown>[]; deferred: number };
const isolate = (redis: ScriptRunner, spendLeaseMs = LEASE_MS, holdMs = HOLD_MS): Isolate => ({
  allowances: createAllowances({
    keyPrefix: storage.prefix,
    redis,
    tracked: (_store, work) => work(),
    clock: Date.now,
    spendLeaseMs,
    holdMs,
  }),
  pending: [],
  deferred: 0,
});
const reserve = (one: Isolate, caller: Caller, micros: number, tokens = 10) =>
  one.allowances.reserve(caller, { micros, tokens }, (work) => {
    one.deferred += 1;
    one.pending.push(work);
  });

/** What the after-response batch does with the isolate's reports: one BATCH_SCRIPT call; put back when Redis fails. */
async function flush(one: Isolate, redis: ScriptRunner): Promise<void> {
  const { reports, putBack } = one.allowances.takeReports();
  if (reports.length === 0) return;
  const call = batchCall(undefined, undefined, { keys: reports.flatMap((r) => r.keys), args: reports.flatMap((r) => r.args) })!;
  await runScript(redis, BATCH_SCRIPT, call.keys, call.args).catch(putBack);
}

const budgeted = (dailyMicros: number, extra: Partial<Caller> = {}): Caller => ({
  ...ADMIN_CALLER,
  admin: false,
  keyId: `k${crypto.randomUUID().slice(0, 8)}`,
  dailyBudgetUsd: dailyMicros / 1e6,
  ...extra,
});

async function money(caller: Caller): Promise<{ spent: number; committed: number }> {
  const day = utcDay(new Date());
  const [spent, committed] = await Promise.all(
    ["", ":committed"].map(async (suffix) => Number((await upstash.get(`${storage.prefix}:spend:key:${caller.keyId}:d:${day}${suffix}`)) ?? 0)),
  );
  return { spent: spent!, committed: committed! };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const statusOf = async (work: Promise<unknown>): Promise<number> =>
  work.then(
    () => 200,
    (error: { status?: number }) => error.status ?? 500,
  );

describe("budgets by lease", () => {
  it("never lets spend pass the budget, and brings every unspent slice back, over random interleavings", async () => {
    let run = 0;
    const step = fc.oneof(
      fc.record({ kind: fc.constant("reserve" as const), isolate: fc.integer({ min: 0, max: 2 }), micros: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ kind: fc.constant("settle" as const), pick: fc.nat(), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 250 }) }),
      fc.record({ kind: fc.constant("flush" as const), isolate: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant("kill" as const), isolate: fc.integer({ min: 0, max: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 20, max: 3_000 }), fc.array(step, { minLength: 10, maxLength: 40 }), async (budget, steps) => {
        run += 1;
        const { redis } = switchable();
        const caller = budgeted(budget);
        const isolates = [isolate(redis), isolate(redis), isolate(redis)];
        // What each live request holds, and what each isolate charged and sent (what the audit log would sum to).
        let inFlight: { at: number; held: Held }[] = [];
        let charged = 0;
        const unsent = [0, 0, 0];
        const send = async (i: number) => {
          await flush(isolates[i]!, redis);
          charged += unsent[i]!;
          unsent[i] = 0;
        };
        for (const s of steps) {
          if (s.kind === "reserve") {
            const held = await reserve(isolates[s.isolate]!, caller, s.micros).catch(() => undefined);
            if (held !== undefined) inFlight.push({ at: s.isolate, held });
          } else if (s.kind === "settle" && inFlight.length > 0) {
            const [request] = inFlight.splice(s.pick % inFlight.length, 1);
            const actual = Math.floor(request!.held.spend!.micros * s.share);
            isolates[request!.at]!.allowances.settle(caller, request!.held, actual, 5);
            unsent[request!.at]! += actual;
          } else if (s.kind === "wait") await sleep(s.ms);
          else if (s.kind === "flush") await send(s.isolate);
          else if (s.kind === "kill") {
            // The isolate goes with its slices, its requests and the reports it had not sent.
            await Promise.allSettled(isolates[s.isolate]!.pending);
            isolates[s.isolate] = isolate(redis);
            inFlight = inFlight.filter((request) => request.at !== s.isolate);
            unsent[s.isolate] = 0;
          }
          const now = await money(caller);
          expect(now.committed, `run ${run}`).toBeLessThanOrEqual(budget);
          expect(now.spent).toBeLessThanOrEqual(now.committed);
        }
        // Every request ends and is sent; once the holds are past, a grant anywhere brings back what no one spent.
        for (const request of inFlight.splice(0)) {
          isolates[request.at]!.allowances.settle(caller, request.held, request.held.spend!.micros, 5);
          unsent[request.at]! += request.held.spend!.micros;
        }
        for (let i = 0; i < 3; i++) {
          await flush(isolates[i]!, redis);
          charged += unsent[i]!;
        }
        await sleep(HOLD_MS + 50);
        await statusOf(reserve(isolate(redis), caller, 1));
        const end = await money(caller);
        expect(end.spent).toBeLessThanOrEqual(budget);
        // The last grant took 1 µ$ if it fit; nothing else is held.
        expect(end.committed - end.spent).toBeLessThanOrEqual(1);
        // Counted is what was charged and sent: nothing lost, nothing twice.
        expect(end.spent).toBe(charged);
      }),
      { numRuns: 10 },
    );
  }, 240_000);

  it("reserves a warm key's requests without a round trip, and sizes slices to what the budget has left", async () => {
    const { redis, state } = switchable();
    const one = isolate(redis);
    const caller = budgeted(1_000_000);
    // A steady key, a request every 5 ms: its slice is sized to that rate.
    for (let i = 0; i < 3; i++) {
      one.allowances.settle(caller, await reserve(one, caller, 100), 100, 5);
      await sleep(5);
    }
    await flush(one, redis);
    const calls = state.calls;
    // Five more at that pace while Redis answers nothing (half what a slice at this rate holds): reserved all the
    // same, from the slice; the refill they start waits, unanswered, in the background.
    state.pause();
    const five = (async () => {
      for (let i = 0; i < 5; i++) {
        one.allowances.settle(caller, await reserve(one, caller, 100), 100, 5);
        await sleep(5);
      }
      return "reserved";
    })();
    expect(await Promise.race([five, sleep(2_000).then(() => "waited on Redis")])).toBe("reserved");
    state.resume();
    expect(state.calls - calls).toBeLessThanOrEqual(2);
    // Near the end of a budget a slice is one request's need: another isolate still finds the rest.
    const small = budgeted(1_000);
    const [a, b] = [isolate(redis), isolate(redis)];
    const first = await reserve(a, small, 400);
    expect(first.spend!.slice!.free).toBeLessThanOrEqual(100);
    expect(await statusOf(reserve(b, small, 400))).toBe(200);
    expect(await statusOf(reserve(b, small, 400))).toBe(429);
  });

  it("spends a slice it holds while Redis is down, no more, and counts that spend once Redis is back", async () => {
    const { redis, state } = switchable();
    // A lease long enough that the slice is still held when Redis goes.
    const one = isolate(redis, 5_000, 12_000);
    const caller = budgeted(100_000);
    // A rate, then a slice sized to it.
    for (let i = 0; i < 4; i++) {
      one.allowances.settle(caller, await reserve(one, caller, 50), 50, 5);
      await sleep(10);
    }
    await sleep(50); // a refill on its way lands
    await flush(one, redis);
    // What Redis has carved out for this key (only this isolate holds any): the most it may spend with Redis down.
    const before = await money(caller);
    const held = before.committed - before.spent;
    const counted = before.spent;
    state.down = true;
    let served = 0;
    for (let i = 0; i < 200; i++) {
      const status = await statusOf(reserve(one, caller, 50).then((h) => one.allowances.settle(caller, h, 50, 5)));
      if (status !== 200) {
        expect(status).toBe(503);
        break;
      }
      served += 1;
    }
    expect(served * 50).toBeLessThanOrEqual(held);
    expect(served).toBeGreaterThan(0);
    await flush(one, redis); // Redis still down: the reports wait
    expect((await money(caller)).spent).toBe(counted);
    state.down = false;
    await flush(one, redis);
    const after = await money(caller);
    expect(after.spent).toBe(counted + served * 50);
    expect(after.committed).toBeGreaterThanOrEqual(after.spent);
    expect(after.committed).toBeLessThanOrEqual(100_000);
  });

  it("gives a quiet isolate's slice back by itself when its lease ends", async () => {
    const { redis } = switchable();
    const quiet = isolate(redis);
    const caller = budgeted(10_000);
    for (let i = 0; i < 4; i++) {
      quiet.allowances.settle(caller, await reserve(quiet, caller, 100), 100, 5);
      await sleep(10);
    }
    await flush(quiet, redis);
    const held = await money(caller);
    expect(held.committed - held.spent).toBeGreaterThan(0);
    // No request comes: the give-back waits out the lease in the background (the request's waitUntil, in a worker).
    await sleep(LEASE_MS + 50);
    while (quiet.pending.length > 0) await Promise.allSettled(quiet.pending.splice(0));
    const back = await money(caller);
    expect(back).toEqual({ spent: held.spent, committed: held.spent });
  });

  it("gives a killed isolate's slice back when its hold expires, to the key's next grant anywhere", async () => {
    const { redis } = switchable();
    const caller = budgeted(10_000);
    const doomed = isolate(redis);
    for (let i = 0; i < 4; i++) {
      doomed.allowances.settle(caller, await reserve(doomed, caller, 100), 100, 5);
      await sleep(10);
    }
    await flush(doomed, redis);
    await reserve(doomed, caller, 100); // held, never settled: the isolate dies with it
    const stranded = await money(caller);
    expect(stranded.committed - stranded.spent).toBeGreaterThan(100);
    await sleep(HOLD_MS + 50);
    const survivor = isolate(redis);
    await reserve(survivor, caller, 1);
    const back = await money(caller);
    expect(back.spent).toBe(stranded.spent);
    expect(back.committed - back.spent).toBeLessThanOrEqual(Math.ceil((10_000 - back.spent) / 10));
  });
});

describe("budgets near their end (issue 36: refused while money was left, and told never to retry)", () => {
  /** A reservation, settled at `cost` and counted by the batch; the error when it is refused. */
  const serve = async (one: Isolate, redis: ScriptRunner, caller: Caller, micros: number, cost: number): Promise<ApiError | undefined> => {
    let held: Held;
    try {
      held = await reserve(one, caller, micros);
    } catch (error) {
      return error as ApiError;
    }
    one.allowances.settle(caller, held, cost, 5);
    await flush(one, redis);
    return undefined;
  };

  it("serves sequential requests until the money is really spent: a grant nets out the isolate's own free slices", async () => {
    const { redis } = switchable();
    // Leases as long as production's: nothing comes back by expiry while the test runs.
    const one = isolate(redis, 20_000, 60_000);
    const caller = budgeted(1_000);
    // The probe's key: each request reserves 494 µ$ and costs 46. Served while 1000 − 46·k ≥ 494: k = 0..11.
    const refusals: (ApiError | undefined)[] = [];
    for (let k = 0; k < 13; k++) refusals.push(await serve(one, redis, caller, 494, 46));
    expect(refusals.slice(0, 12)).toEqual(new Array(12).fill(undefined));
    expect(refusals[12]).toBeInstanceOf(BudgetSpent);
    expect(refusals[12]!.headers["x-should-retry"]).toBe("false");
    expect((await money(caller)).spent).toBe(12 * 46);
  });

  it("refuses as spent if and only if the budget less what was spent is below the reservation (one isolate, fast-check)", async () => {
    const { redis } = switchable();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 200, max: 5_000 }),
        fc.array(fc.record({ reserve: fc.integer({ min: 1, max: 1_500 }), share: fc.double({ min: 0, max: 1, noNaN: true }) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (budget, requests) => {
          const one = isolate(redis, 20_000, 60_000);
          const caller = budgeted(budget);
          let spent = 0;
          for (const request of requests) {
            const cost = Math.floor(request.reserve * request.share);
            const refusal = await serve(one, redis, caller, request.reserve, cost);
            if (budget - spent < request.reserve) {
              expect(refusal).toBeInstanceOf(BudgetSpent);
            } else {
              expect(refusal).toBeUndefined();
              spent += cost;
            }
          }
          expect((await money(caller)).spent).toBe(spent);
        },
      ),
      { numRuns: 40, seed: 36_2 },
    );
  }, 120_000);

  it("knows a spent budget in the isolate: the next refusals make no call to Redis, until a request fits what is left or the budget changes", async () => {
    const { redis, state } = switchable();
    const one = isolate(redis, 20_000, 60_000);
    const caller = budgeted(1_000);
    // As above: twelve requests of 494 µ$ reserved and 46 spent each, then 448 µ$ left and the thirteenth refused.
    for (let k = 0; k < 12; k++) expect(await serve(one, redis, caller, 494, 46)).toBeUndefined();
    const first = await serve(one, redis, caller, 494, 46);
    expect(first).toBeInstanceOf(BudgetSpent);
    const calls = state.calls;
    for (let k = 0; k < 3; k++) {
      const again = await serve(one, redis, caller, 494, 46);
      expect(again).toBeInstanceOf(BudgetSpent);
      expect(again!.message).toBe(first!.message);
      expect(again!.headers["x-should-retry"]).toBe("false");
    }
    expect(state.calls).toBe(calls);
    // A request that fits what was left still goes to Redis, and is served.
    expect(await serve(one, redis, caller, 448, 48)).toBeUndefined();
    expect(state.calls).toBeGreaterThan(calls);
    expect((await money(caller)).spent).toBe(12 * 46 + 48);
    // A larger budget (a top-up, seen in the key's record) is asked at once.
    expect(await serve(one, redis, { ...caller, dailyBudgetUsd: 2_000 / 1e6 }, 494, 46)).toBeUndefined();
  });

  it("waits for its own refill on its way, rather than count the money it brings as spent", async () => {
    const { redis } = switchable();
    // The refill reaches Redis (its holding is counted there) but its answer is held back until released.
    let holdNext = false;
    let release: () => void = () => {};
    const slow = {
      ...redis,
      evalsha: async (...args: Parameters<ScriptRunner["evalsha"]>) => {
        const held = holdNext ? new Promise<void>((resolve) => (release = resolve)) : undefined;
        holdNext = false;
        const answer = await redis.evalsha(...args);
        await held;
        return answer;
      },
    } as ScriptRunner;
    const one = isolate(slow, 20_000, 60_000);
    const caller = budgeted(1_000);
    expect(await serve(one, slow, caller, 100, 0)).toBeUndefined(); // a slice of about 100
    holdNext = true;
    const inFlight = await reserve(one, caller, 60); // leaves the slice low: a refill goes out, its answer held
    expect(one.deferred).toBeGreaterThan(0);
    // Nothing is spent: 1,000 µ$ less the 60 in flight fits 935.
    const big = reserve(one, caller, 935).then(
      (held) => held,
      (error: unknown) => error as ApiError,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    const answer = await big;
    expect(answer).not.toBeInstanceOf(BudgetSpent);
    expect((answer as Held).spend?.micros).toBe(935);
    one.allowances.settle(caller, inFlight, 0, 5);
    one.allowances.settle(caller, answer as Held, 0, 5);
  });

  it("counts its own spend whose report is still on its way as spent, not held", async () => {
    const { redis } = switchable();
    const one = isolate(redis, 20_000, 60_000);
    const caller = budgeted(3);
    // Three requests of 1 µ$ each, settled here; the after-response batch has not yet counted them in Redis.
    for (let i = 0; i < 3; i++) one.allowances.settle(caller, await reserve(one, caller, 1), 1, 5);
    const refusal = await reserve(one, caller, 1).then(
      () => undefined,
      (error: ApiError) => error,
    );
    expect(refusal).toBeInstanceOf(BudgetSpent);
    await flush(one, redis);
    expect((await money(caller)).spent).toBe(3);
  });

  it("refuses what other requests' slices hold as retryable, until their lease ends", async () => {
    const { redis } = switchable();
    const [a, b] = [isolate(redis, 3_000, 10_000), isolate(redis, 3_000, 10_000)];
    const caller = budgeted(1_000);
    // Isolate a holds 700 µ$ for a request in flight; nothing is spent yet.
    const inFlight = await reserve(a, caller, 700);
    const refusal = (await serve(b, redis, caller, 400, 10)) as ApiError;
    expect(refusal).toBeInstanceOf(BudgetHeld);
    expect(refusal.status).toBe(429);
    expect(refusal.code).toBe("budget_held");
    expect(refusal.headers["x-should-retry"]).toBe("true");
    // a's slice was granted just now: its lease, 3 s, ends about then.
    expect(refusal.headers["retry-after"]).toBe("3");
    // a's request ends; when its slice's lease ends, a gives back what it did not spend, and b is served.
    a.allowances.settle(caller, inFlight, 100, 5);
    await flush(a, redis);
    await sleep(3_100);
    await Promise.all(a.pending);
    expect(await serve(b, redis, caller, 400, 10)).toBeUndefined();
    expect(await money(caller)).toMatchObject({ spent: 110 });
  });
});

describe("tokens by lease", () => {
  it("debits a slice when granted, counts each correction in the batch, and refuses what can never fit", async () => {
    const { redis } = switchable();
    const one = isolate(redis);
    const caller = { ...budgeted(0), dailyBudgetUsd: null, tpm: 6_000 };
    const bucket = `${storage.prefix}:limit:tokens:${caller.keyId}`;
    const held = await reserve(one, caller, 0, 100);
    expect(held.tokens).toBe(100);
    // The answer used 130: 30 more than reserved, counted by the batch whatever the bucket holds.
    one.allowances.settle(caller, held, 0, 130);
    await flush(one, redis);
    expect(Number(await upstash.hget(bucket, "d"))).toBe(130);
    expect((await one.allowances.peekTokens(caller))?.checked).toBe(true);
    // A request that can never fit is refused 400; one the bucket cannot hold now, 429.
    expect(await statusOf(reserve(one, caller, 0, 7_000))).toBe(400);
  });
});
