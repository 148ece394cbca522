/** The breaker script on the real Redis: every way a circuit opens, stays open, and closes. */

import { createClient } from "redis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { forRedis70 } from "../../scripts/local/upstash-rest.ts";
import { BATCH_SCRIPT, batchCall } from "../../src/pipeline/batch-script.ts";
import { BREAKER_SCRIPT } from "../../src/reliability/breaker-script.ts";
import { SYSTEM_REDIS } from "../support/storage.ts";

const redis = createClient({ url: SYSTEM_REDIS, RESP: 2 });
const prefix = `tbs${process.pid}`;
const KEYS = [`${prefix}:states`, `${prefix}:latency`, `${prefix}:transitions`];
/** The script's keys for reports of these targets (and callers): the three hashes, then each report's two counter hashes. */
const keysFor = (targets: string[], owners: string[] = []): string[] => [
  ...KEYS,
  ...targets.flatMap((target, i) => [`${prefix}:counts:${target}`, `${prefix}:counts:caller:${owners[i] || target}`]),
];
const SETTINGS = { need: 3, rate: 50, windowMs: 10_000, minimum: 10, cooldownMs: 1_000 };

beforeAll(() => redis.connect());
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(keys);
  await redis.close();
});
beforeEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(keys);
});

type Outcome = "ok" | "fail" | "open" | "close";
/** Runs the script for `outcomes` (with a latency and a caller, '' for none) of one target at time `now`; returns the transitions it made. */
async function report(now: number, outcomes: [Outcome, number?, string?][], target = "model:m", need = SETTINGS.need): Promise<string[]> {
  const args = [now, need, SETTINGS.rate, SETTINGS.windowMs, SETTINGS.minimum, SETTINGS.cooldownMs, 0.5].map(String);
  for (const [outcome, ms = -1, owner = ""] of outcomes) args.push(target, outcome, String(ms), owner);
  const keys = keysFor(
    outcomes.map(() => target),
    outcomes.map(([, , owner = ""]) => owner),
  );
  return ((await redis.eval(BREAKER_SCRIPT, { keys, arguments: args })) as unknown[]).map(String);
}
const openUntil = async (target = "model:m") => redis.hGet(KEYS[0]!, target);

describe("the breaker script", () => {
  it("opens after N failures in a row, and a success in between resets the count", async () => {
    expect(await report(1_000, [["fail"], ["fail"], ["ok"], ["fail"], ["fail"]])).toEqual([]);
    expect(await report(1_001, [["fail"]])).toEqual(["model:m", "open", "2001"]);
    expect(await openUntil()).toBe("2001");
    expect(await redis.hGet(KEYS[2]!, "model:m|open")).toBe("1");
  });

  it("opens on the error rate once the window holds enough calls, though no run reaches N", async () => {
    const alternating: [Outcome][] = Array.from({ length: 9 }, (_, i) => [i % 2 === 0 ? "ok" : "fail"]);
    expect(await report(1_000, alternating, "model:m", 100)).toEqual([]);
    expect(await report(1_000, [["fail"]], "model:m", 100)).toEqual(["model:m", "open", "2000"]); // 5 of 10 failed: 50%
  });

  it("forgets failures older than the window", async () => {
    const nine: [Outcome][] = [["fail"], ["fail"], ["fail"], ["fail"], ["ok"], ["ok"], ["ok"], ["ok"], ["ok"]];
    await report(1_000, nine, "model:m", 100);
    // In the same window one more failure would make 5 of 10: open. 11 s later the window has started
    // again: one failure of one call, below the minimum of 10 calls.
    expect(await report(12_000, [["fail"]], "model:m", 100)).toEqual([]);
    expect(await report(12_001, nine, "model:m", 100)).toEqual([]);
    expect(await report(12_002, [["fail"]], "model:m", 100)).toEqual(["model:m", "open", "13002"]);
  });

  it("ignores successes and failures while open; closes on a success once half-open, reopens on a failure", async () => {
    await report(1_000, [["fail"], ["fail"], ["fail"]]);
    expect(await report(1_500, [["ok"], ["fail"]])).toEqual([]);
    expect(await openUntil()).toBe("2000");
    expect(await report(2_100, [["fail"]])).toEqual(["model:m", "open", "3100"]);
    expect(await report(3_200, [["ok", 40]])).toEqual(["model:m", "closed", "0"]);
    expect(await openUntil()).toBeNull();
    expect(await redis.hGetAll(KEYS[2]!)).toEqual({ "model:m|open": "2", "model:m|closed": "1" });
  });

  it("lets a probe open and close a circuit at once", async () => {
    expect(await report(1_000, [["open"]], "provider:p")).toEqual(["provider:p", "open", "2000"]);
    expect(await report(1_200, [["close"]], "provider:p")).toEqual(["provider:p", "closed", "0"]);
  });

  it("opens a shared circuit on one caller's failures never; on two callers' as fast as before", async () => {
    const five: [Outcome, number, string][] = Array.from({ length: 5 }, () => ["fail", -1, "tenant:evil"]);
    expect(await report(1_000, five)).toEqual([]);
    expect(await openUntil()).toBeNull();
    // A second caller's failure in the window: the streak was already there, so it opens at once.
    expect(await report(1_001, [["fail", -1, "tenant:good"]])).toEqual(["model:m", "open", "2001"]);
  });

  it("opens a caller's own circuit when it fails on two models that others are served by", async () => {
    for (const model of ["model:a", "model:b"]) await report(1_000, [["ok", 20, "tenant:good"]], model);
    expect(await report(1_100, [["fail", -1, "tenant:evil"]], "model:a")).toEqual([]);
    expect(await report(1_200, [["fail", -1, "tenant:evil"]], "model:a")).toEqual([]);
    // The third failure in a row, on a second model: the caller's circuit, and no model's.
    expect(await report(1_300, [["fail", -1, "tenant:evil"]], "model:b")).toEqual(["caller:tenant:evil", "open", "2300"]);
    expect(await openUntil("model:a")).toBeNull();
    expect(await openUntil("model:b")).toBeNull();
    // Half-open after the cool-down: the caller's next success closes it.
    expect(await report(2_400, [["ok", 20, "tenant:evil"]], "model:a")).toEqual(["caller:tenant:evil", "closed", "0"]);
  });

  it("keeps a latency EWMA of successful calls", async () => {
    await report(1_000, [["ok", 100], ["ok", 200], ["fail"], ["ok", 300]]);
    // 100, then 100 + 0.5 × (200 − 100) = 150, then 150 + 0.5 × (300 − 150) = 225.
    expect(await redis.hGet(KEYS[1]!, "model:m")).toBe("225");
  });

  it("runs inside the batch's one call beside the metrics' increments, each on its own keys and arguments", async () => {
    const breakerArgs = [1_000, 1, 50, 10_000, 10, 1_000, 0.5].map(String).concat(["model:m", "fail", "-1", ""]);
    const metricsKey = `${prefix}:metrics`;
    const call = batchCall(
      { keys: keysFor(["model:m"]), args: breakerArgs },
      { keys: [metricsKey], args: ["tiergate_requests_total|tier=1", "3", "tiergate_tokens_total|x", "40"] },
    )!;
    const changed = (await redis.eval(forRedis70(BATCH_SCRIPT.source), { keys: call.keys, arguments: call.args })) as unknown[];
    expect(changed.map(String)).toEqual(["model:m", "open", "2000"]);
    expect(await redis.hGetAll(metricsKey)).toEqual({ "tiergate_requests_total|tier=1": "3", "tiergate_tokens_total|x": "40" });
    // Either half alone.
    const metricsOnly = batchCall(undefined, { keys: [metricsKey], args: ["tiergate_requests_total|tier=1", "2"] })!;
    expect(await redis.eval(forRedis70(BATCH_SCRIPT.source), { keys: metricsOnly.keys, arguments: metricsOnly.args })).toEqual([]);
    expect(await redis.hGet(metricsKey, "tiergate_requests_total|tier=1")).toBe("5");
    const breakersOnly = batchCall(
      { keys: keysFor(["model:m"]), args: [2_100, 1, 50, 10_000, 10, 1_000, 0.5].map(String).concat(["model:m", "ok", "20", ""]) },
      undefined,
    )!;
    expect(((await redis.eval(forRedis70(BATCH_SCRIPT.source), { keys: breakersOnly.keys, arguments: breakersOnly.args })) as unknown[]).map(String)).toEqual([
      "model:m",
      "closed",
      "0",
    ]);
  });
});
