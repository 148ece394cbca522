/**
 * Spend per key and per tenant, per UTC day and month, in integer micro-dollars, in
 * Redis. Before a provider call the estimated cost is reserved atomically against
 * every budget that applies (one Lua script: all counters checked, then all raised,
 * so ten concurrent first requests cannot overrun a budget); after it, the reservation
 * is put right with the real cost (the whole of it refunded for an error).
 * Failure policy: a key with a budget is refused (503) while Redis cannot reserve:
 * budgets are money and fail closed. A key without one is served, and its spend is
 * counted on a best-effort basis (the audit log holds the exact figures).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";
import { type LuaScript, runScript, type ScriptRunner } from "../storage/scripts.ts";
import type { Caller } from "./caller.ts";

/**
 * KEYS: the spend counters. ARGV[1]: micro-dollars (negative refunds); ARGV[2]: "reserve"
 * checks every limit first, "adjust" does not; ARGV[3]: for "reserve", a smaller amount
 * to reserve instead when ARGV[1] does not fit ("-1": none); then a limit per key (-1:
 * none) and a TTL per key. Returns {1, 0, the amount applied}, or {0, i} when counter i
 * would pass its limit (at the smaller amount, when there is one).
 */
export const SPEND_SCRIPT: LuaScript = {
  source: `#!lua flags=allow-key-locking
local n = #KEYS
local function fits(amount)
  for i = 1, n do
    local limit = tonumber(ARGV[3 + i])
    if limit >= 0 and tonumber(redis.call('GET', KEYS[i]) or '0') + amount > limit then return i end
  end
  return 0
end
local amount = tonumber(ARGV[1])
if ARGV[2] == "reserve" then
  local passed = fits(amount)
  local smaller = tonumber(ARGV[3])
  if passed > 0 and smaller >= 0 and smaller < amount then
    passed = fits(smaller)
    if passed == 0 then amount = smaller end
  end
  if passed > 0 then return {0, passed} end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], amount)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3 + n + i]), 'NX')
end
return {1, 0, amount}`,
  sha1: "fcfa0e6d68de49bbdb8b98f231e8f8fe3da2fde9",
};

const DAY_TTL_SECONDS = 2 * 86_400;
const MONTH_TTL_SECONDS = 32 * 86_400;

/** A budget in micro-dollars, the unit every spend and budget is counted in (budgets are whole micro-dollars: key-store.ts). */
export const budgetMicros = (usd: number): number => Math.round(usd * 1e6);

type Counter = { key: string; limitMicros: number; ttl: number; name: string };

/** The counters a request of this caller moves: key day and month, and its tenant's if it has one. */
function spendCounters(config: { keyPrefix: string }, caller: Caller, now = new Date()): Counter[] {
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  const month = day.slice(0, 6);
  const limit = (usd: number | null): number => (usd === null ? -1 : budgetMicros(usd));
  const counters: Counter[] = [
    { key: redisKey(config, "spend", `key:${caller.keyId}:d:${day}`), limitMicros: limit(caller.dailyBudgetUsd), ttl: DAY_TTL_SECONDS, name: "daily" },
    { key: redisKey(config, "spend", `key:${caller.keyId}:m:${month}`), limitMicros: limit(caller.monthlyBudgetUsd), ttl: MONTH_TTL_SECONDS, name: "monthly" },
  ];
  if (caller.tenantId !== null) {
    const tenant = caller.tenantBudgets;
    counters.push(
      { key: redisKey(config, "spend", `tenant:${caller.tenantId}:d:${day}`), limitMicros: limit(tenant.dailyUsd), ttl: DAY_TTL_SECONDS, name: "tenant daily" },
      {
        key: redisKey(config, "spend", `tenant:${caller.tenantId}:m:${month}`),
        limitMicros: limit(tenant.monthlyUsd),
        ttl: MONTH_TTL_SECONDS,
        name: "tenant monthly",
      },
    );
  }
  return counters;
}

/** Whether any budget applies to the caller: then an answer may not write, nor be charged, more than was reserved for it. */
export function hasBudget(caller: Caller): boolean {
  const { dailyBudgetUsd, monthlyBudgetUsd, tenantBudgets, tenantId } = caller;
  return dailyBudgetUsd !== null || monthlyBudgetUsd !== null || (tenantId !== null && (tenantBudgets.dailyUsd !== null || tenantBudgets.monthlyUsd !== null));
}

/** A reservation made before the call, to be settled with the real cost after it. */
export type Reservation = { counters: Counter[]; micros: number };

export type Budgets = {
  /**
   * Reserves `micros` against every budget of the caller, or `orMicros` when `micros`
   * does not fit and that does (in the same script: one round trip); 429
   * `insufficient_quota` when neither fits.
   */
  reserve(caller: Caller, micros: number, orMicros?: number): Promise<Reservation | undefined>;
  /** Moves the reservation to the real cost; never refused (the answer was given). */
  settle(reservation: Reservation, actualMicros: number): Promise<void>;
  /** Spend so far in micro-dollars, per counter, in the order of `spendCounters`. */
  read(caller: Caller): Promise<number[]>;
  counters(caller: Caller): Counter[];
};

export function createBudgets(deps: { keyPrefix: string; redis: (ScriptRunner & Pick<Redis, "mget">) | undefined; tracked: Tracked }): Budgets {
  const { redis, tracked } = deps;
  const run = (counters: Counter[], micros: number, mode: "reserve" | "adjust", orMicros = -1): Promise<[number, number, number?]> =>
    tracked("redis", () =>
      runScript<[number, number, number?]>(
        redis!,
        SPEND_SCRIPT,
        counters.map((c) => c.key),
        args(counters, micros, mode, orMicros),
      ),
    );
  return {
    async reserve(caller, micros, orMicros) {
      const counters = spendCounters(deps, caller);
      const budgeted = counters.some((counter) => counter.limitMicros >= 0);
      if (redis === undefined) {
        if (budgeted) throw budgetUnavailable();
        return undefined;
      }
      let result: [number, number, number?];
      try {
        result = await run(counters, micros, "reserve", orMicros);
      } catch {
        if (budgeted) throw budgetUnavailable();
        return undefined;
      }
      if (result[0] !== 1) throw budgetSpent(counters[result[1] - 1]!);
      return { counters, micros: result[2] ?? micros };
    },
    async settle(reservation, actualMicros) {
      const difference = actualMicros - reservation.micros;
      if (difference === 0 || redis === undefined) return;
      await run(reservation.counters, difference, "adjust").catch(() => {});
    },
    async read(caller) {
      const counters = spendCounters(deps, caller);
      if (redis === undefined) return counters.map(() => 0);
      const values = await tracked("redis", () => redis.mget<(string | null)[]>(...counters.map((c) => c.key)));
      return values.map((value) => Number(value ?? 0));
    },
    counters: (caller) => spendCounters(deps, caller),
  };
}

function args(counters: Counter[], micros: number, mode: "reserve" | "adjust", orMicros: number): string[] {
  return [String(micros), mode, String(orMicros), ...counters.map((c) => String(c.limitMicros)), ...counters.map((c) => String(c.ttl))];
}

/**
 * 429 `insufficient_quota`, as OpenAI answers a spent quota, but said not to be retried
 * (`x-should-retry: false`, which the official SDKs honour) with a Retry-After at the
 * start of the budget's next period, when it is whole again.
 */
function budgetSpent(passed: Counter, now = new Date()): ApiError {
  const daily = passed.ttl === DAY_TTL_SECONDS;
  const whose = passed.name.startsWith("tenant") ? "This key's tenant's" : "This key's";
  const next = daily ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return new ApiError(429, `${whose} ${daily ? "daily" : "monthly"} budget is spent; it resets at the start of the next UTC ${daily ? "day" : "month"}.`, {
    type: "insufficient_quota",
    code: "insufficient_quota",
    auditCode: `insufficient_quota:${passed.name.replace(" ", "_")}`,
    headers: { "x-should-retry": "false", "retry-after": String(Math.max(1, Math.ceil((next - now.getTime()) / 1000))) },
  });
}

function budgetUnavailable(): ApiError {
  return new ApiError(503, "This key's budget cannot be checked right now; try again shortly", {
    code: "budget_unavailable",
    headers: { "retry-after": "5" },
  });
}
