/**
 * Requests per minute by lease (security/request-leases.ts), against real Redis through
 * the Upstash REST endpoint, with several isolates' books sharing one key. The window is
 * shortened (2 s, so the lease is 200 ms) to see several windows in one run; the script
 * and the books are the production ones.
 * - The guarantee: never more than N admitted in any window, over random schedules.
 * - A warm book admits without a round trip; a refill goes in the background.
 * - A book holding a slice admits from it while Redis is down; without one, the limit fails open.
 * - Unused requests come back at the next grant, so a quiet isolate does not keep them.
 */
import { Redis } from "@upstash/redis";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Admission, createRequestLeases } from "../../src/security/request-leases.ts";
import type { ScriptRunner } from "../../src/storage/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";
import { switchableRedis } from "../support/switchable-redis.ts";

const WINDOW_MS = 2_000;
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

const isolate = (redis: ScriptRunner | undefined, keyPrefix = storage.prefix) =>
  createRequestLeases({ keyPrefix, redis, tracked: (_store, work) => work(), clock: Date.now, windowMs: WINDOW_MS });

const admittedOf = (outcome: Admission): boolean => outcome.kind === "admitted";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("requests per minute by lease", () => {
  it("never admits more than N in any window, across isolates, over random schedules", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        // Each step: which of three isolates asks, and how long to wait before it does.
        fc.array(fc.record({ isolate: fc.integer({ min: 0, max: 2 }), gapMs: fc.integer({ min: 0, max: 120 }), burst: fc.integer({ min: 1, max: 4 }) }), {
          minLength: 20,
          maxLength: 60,
        }),
        async (limit, steps) => {
          const key = `prop-${++run}`;
          const isolates = [0, 1, 2].map(() => isolate(upstash));
          const deferred: Promise<unknown>[] = [];
          const admittedAt: number[] = [];
          for (const step of steps) {
            await sleep(step.gapMs);
            const answers = await Promise.all(
              Array.from({ length: step.burst }, () => isolates[step.isolate]!.admit(key, limit, (work) => deferred.push(work))),
            );
            const at = Date.now();
            for (const answer of answers) if (admittedOf(answer)) admittedAt.push(at);
          }
          await Promise.all(deferred);
          // Times are read after each admission returns, a little late: windows are checked 50 ms short.
          admittedAt.sort((a, b) => a - b);
          for (let i = 0; i < admittedAt.length; i++) {
            const inWindow = admittedAt.filter((t) => t >= admittedAt[i]! && t < admittedAt[i]! + WINDOW_MS - 50).length;
            expect(inWindow).toBeLessThanOrEqual(limit);
          }
          // And it admits: the first request of a schedule always fits.
          expect(admittedAt.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 12, seed: 26, endOnFailure: true },
    );
  }, 120_000);

  it("admits a warm key's requests without a round trip, and refills in the background", async () => {
    const { redis, state } = switchable();
    const leases = isolate(redis);
    const deferred: Promise<unknown>[] = [];
    let admitted = 0;
    for (let i = 0; i < 60; i++) {
      const outcome = await leases.admit("warm", 1_000, (work) => deferred.push(work));
      if (admittedOf(outcome)) admitted += 1;
      await sleep(5);
      await Promise.all(deferred.splice(0));
    }
    expect(admitted).toBe(60);
    // A grant of a tenth of the limit, sized to the key's rate: a handful of scripts for 60 requests.
    expect(state.calls).toBeLessThanOrEqual(10);
    expect(state.calls).toBeGreaterThan(0);
  });

  it("admits from a held slice while Redis is down, and fails open without one", async () => {
    const { redis, state } = switchable();
    const leases = isolate(redis);
    const noWait = () => {};
    // Warm the book until it holds a slice of more than one request.
    for (let i = 0; i < 30; i++) await leases.admit("down", 100, (work) => void work);
    await sleep(20);
    const held = await leases.admit("down", 100, noWait);
    expect(held.kind).toBe("admitted");
    state.down = true;
    const during = await leases.admit("down", 100, noWait);
    // Counted against the slice: still checked.
    expect(during.kind).toBe("admitted");
    // A key with no slice here: unchecked (limits fail open), never refused for want of Redis.
    expect(await leases.admit("down-cold", 100, noWait)).toEqual({ kind: "unchecked" });
    state.down = false;
  });

  it("refuses with the time when a request will fit, and gives back what a grant did not use", async () => {
    const first = isolate(upstash);
    const second = isolate(upstash);
    const limit = 20;
    const deferred: Promise<unknown>[] = [];
    const noWait = (work: Promise<unknown>) => void deferred.push(work);
    // Eight quick requests in one isolate: its grants grow with its rate.
    for (let i = 0; i < 8; i++) await first.admit("back", limit, noWait);
    await Promise.all(deferred.splice(0));
    const log = `${storage.prefix}:limit:requests:back`;
    const counted = async () => (await storage.redis.zRange(log, 0, -1)).reduce((sum, member) => sum + Number(member.split(":").at(-1)), 0);
    const takenBefore = await counted();
    expect(takenBefore).toBeGreaterThanOrEqual(8);
    // Past the lease: the first isolate's next grant gives its unused requests back.
    await sleep(WINDOW_MS / 10 + 50);
    await first.admit("back", limit, noWait);
    expect(await counted()).toBeLessThanOrEqual(9 + 2);
    // Fill the window from the other isolate, then one more is refused with a wait within the span.
    let answer: Admission;
    do {
      answer = await second.admit("back", limit, noWait);
      await Promise.all(deferred.splice(0));
    } while (admittedOf(answer));
    const refused = answer as Extract<Admission, { kind: "refused" }>;
    expect(refused.state.remaining).toBe(0);
    expect(refused.state.resetMs).toBeGreaterThan(0);
    expect(refused.state.resetMs).toBeLessThanOrEqual(WINDOW_MS + WINDOW_MS / 10);
    expect(await counted()).toBe(limit);
  });

  it("refuses a refused key's next requests in the isolate until Redis said one fits, with no round trip", async () => {
    const { redis, state } = switchable();
    const one = isolate(redis);
    const noWait = () => {};
    expect((await one.admit("refused again", 1, noWait)).kind).toBe("admitted");
    const first = await one.admit("refused again", 1, noWait);
    expect(first.kind).toBe("refused");
    const calls = state.calls;
    for (let i = 0; i < 5; i++) expect((await one.admit("refused again", 1, noWait)).kind).toBe("refused");
    expect(state.calls).toBe(calls);
    // Once that time has passed, Redis is asked again, and admits.
    await sleep((first as Extract<Admission, { kind: "refused" }>).state.resetMs + 20);
    expect((await one.admit("refused again", 1, noWait)).kind).toBe("admitted");
    expect(state.calls).toBe(calls + 1);
  });
});
