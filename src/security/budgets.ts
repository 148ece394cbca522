/**
 * Budgets per key and per tenant, per UTC day and month, in integer micro-dollars: the
 * counters' names, whether a caller has any, their spend as it stands, and the
 * refusals. What reserves and charges them is allowances.ts, by lease.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";
import type { Caller } from "./caller.ts";

const DAY_TTL_SECONDS = 2 * 86_400;
const MONTH_TTL_SECONDS = 32 * 86_400;

/** The UTC day as the spend counters name it: YYYYMMDD. */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10).replaceAll("-", "");
}

/** A budget in micro-dollars, the unit every spend and budget is counted in (budgets are whole micro-dollars: key-store.ts). */
export const budgetMicros = (usd: number): number => Math.round(usd * 1e6);

export type Counter = { key: string; limitMicros: number; ttl: number; name: string };

/** The counters a request of this caller moves: key day and month, and its tenant's if it has one. */
export function spendCounters(config: { keyPrefix: string }, caller: Caller, now = new Date()): Counter[] {
  const day = utcDay(now);
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

export type Budgets = {
  /** Spend so far in micro-dollars, per counter, in the order of `spendCounters`. */
  read(caller: Caller): Promise<number[]>;
  counters(caller: Caller): Counter[];
};

export function createBudgets(deps: { keyPrefix: string; redis: Pick<Redis, "mget"> | undefined; tracked: Tracked }): Budgets {
  const { redis, tracked } = deps;
  return {
    async read(caller) {
      const counters = spendCounters(deps, caller);
      if (redis === undefined) return counters.map(() => 0);
      const values = await tracked("redis", () => redis.mget<(string | null)[]>(...counters.map((c) => c.key)));
      return values.map((value) => Number(value ?? 0));
    },
    counters: (caller) => spendCounters(deps, caller),
  };
}

/**
 * 429 `insufficient_quota`, as OpenAI answers a spent quota, but said not to be retried
 * (`x-should-retry: false`, which the official SDKs honour) with a Retry-After at the
 * start of the budget's next period, when it is whole again. It keeps what the budgets
 * could still pay one request (`roomMicros`): a request may be sent again asking for
 * less (engine/output-cap.ts).
 */
export class BudgetSpent extends ApiError {
  readonly roomMicros: number;

  constructor(passed: Counter, roomMicros: number, now = new Date()) {
    const daily = passed.ttl === DAY_TTL_SECONDS;
    const whose = passed.name.startsWith("tenant") ? "This key's tenant's" : "This key's";
    const next = daily ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    super(429, `${whose} ${daily ? "daily" : "monthly"} budget is spent; it resets at the start of the next UTC ${daily ? "day" : "month"}.`, {
      type: "insufficient_quota",
      code: "insufficient_quota",
      auditCode: `insufficient_quota:${passed.name.replace(" ", "_")}`,
      headers: { "x-should-retry": "false", "retry-after": String(Math.max(1, Math.ceil((next - now.getTime()) / 1000))) },
    });
    this.roomMicros = roomMicros;
  }
}

/**
 * A budget with money left that other requests' slices hold for now (allowances.ts): not
 * spent, so retryable, once the soonest of those slices has come back.
 */
export class BudgetHeld extends ApiError {
  constructor(passed: Counter, backMs: number) {
    const whose = passed.name.startsWith("tenant") ? "This key's tenant's" : "This key's";
    const seconds = Math.max(1, Math.ceil(backMs / 1000));
    super(
      429,
      `${whose} ${passed.ttl === DAY_TTL_SECONDS ? "daily" : "monthly"} budget has money left, but requests in flight hold it; try again in ${seconds} s.`,
      {
        type: "rate_limit_error",
        code: "budget_held",
        auditCode: `budget_held:${passed.name.replace(" ", "_")}`,
        headers: { "x-should-retry": "true", "retry-after": String(seconds) },
      },
    );
  }
}

export function budgetUnavailable(): ApiError {
  return new ApiError(503, "This key's budget cannot be checked right now; try again shortly", {
    code: "budget_unavailable",
    headers: { "retry-after": "5" },
  });
}
