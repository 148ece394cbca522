/**
 * GET /v1/usage: a client key's own limits, spend today and this month, what remains of
 * its budgets, and its tokens by usage class. Spend comes from the budget counters
 * (Redis), current to the request; tokens from the audit log (Postgres), current to the
 * last flush. Failure policy: spend that cannot be read is a 503; tokens that cannot be
 * read (no Postgres, or it is down) are `null`, and the rest is answered.
 */
import type { Context } from "hono";
import { usageTotals } from "../audit/usage-totals.ts";
import { ApiError } from "../http/errors.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";

export async function usage(c: Context<With<KeyVariables>>): Promise<Response> {
  c.header("cache-control", "no-store");
  const caller = c.get("caller");
  if (caller === undefined) {
    throw new ApiError(401, "GET /v1/usage needs your API key: Authorization: Bearer <key>", { code: "invalid_api_key", auditCode: "invalid_api_key:missing" });
  }
  const { budgets, sql, stores } = c.get("services");
  const counters = budgets.counters(caller);
  const tokens = sql === undefined ? Promise.resolve(null) : usageTotals(sql, stores.tracked, caller.keyId).catch(() => null);
  const spent = await budgets.read(caller).catch(() => {
    throw new ApiError(503, "Spend cannot be read right now", { code: "usage_unavailable" });
  });
  const usd = (micros: number): number => micros / 1e6;
  const entry = (i: number) => {
    const counter = counters[i];
    if (counter === undefined) return undefined;
    const budget = counter.limitMicros < 0 ? null : usd(counter.limitMicros);
    // In micro-dollars, then to USD: a float subtraction of two USD figures is not exact.
    const remaining = counter.limitMicros < 0 ? null : usd(Math.max(0, counter.limitMicros - (spent[i] ?? 0)));
    return { spent_usd: usd(spent[i] ?? 0), budget_usd: budget, remaining_usd: remaining };
  };
  return c.json({
    object: "usage",
    key_id: caller.keyId,
    tenant_id: caller.tenantId,
    limits: { requests_per_minute: caller.rpm, tokens_per_minute: caller.tpm, max_tier: caller.maxTier, models: caller.models },
    key: { today: entry(0), month: entry(1) },
    tenant: caller.tenantId === null ? null : { today: entry(2), month: entry(3) },
    // The key's tokens by class, from its audit rows: the cache classes are parts of prompt_tokens.
    tokens: await tokens,
  });
}
