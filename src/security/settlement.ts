/**
 * What a request reserved before its provider call (tokens against the key's tokens
 * per minute, micro-dollars against its budgets), made and put right in one place.
 */
import type { Context } from "hono";
import type { Config } from "../config/env.ts";
import type { AppEnv } from "../http/app-env.ts";
import type { Caller } from "./api-keys.ts";
import { noteLimit } from "./api-keys.ts";
import { type Reservation, reserveSpend, settleSpend, toMicros } from "./budgets.ts";
import { correctTokens, debitTokens } from "./limits.ts";

export type Settlement = { caller: Caller; tokens: number; spend: Reservation | undefined };

/**
 * Reserves the request's estimated cost and debits its estimated tokens, side by side
 * (two Redis calls in parallel, not one after the other); 429 when either is over.
 * Whatever succeeded is recorded on the audit draft, so it is put right after the
 * request, however it ends. Says whether a budget applies.
 */
export async function reserveFor(c: Context<AppEnv>, caller: Caller, estimate: { usd: number; tokens: number }): Promise<boolean> {
  const config = c.get("config");
  const settlement: Settlement = { caller, tokens: 0, spend: undefined };
  c.get("audit").settlement = settlement;
  const [spend, debit] = await Promise.allSettled([reserveSpend(config, caller, toMicros(estimate.usd)), debitTokens(config, caller, estimate.tokens)]);
  if (spend.status === "fulfilled") settlement.spend = spend.value;
  if (debit.status === "fulfilled" && debit.value?.checked) settlement.tokens = Math.max(1, Math.ceil(estimate.tokens));
  if (spend.status === "rejected") throw spend.reason;
  if (debit.status === "rejected") throw debit.reason;
  noteLimit(c, "tokens", debit.value);
  return settlement.spend?.counters.some((counter) => counter.limitMicros >= 0) === true;
}

export async function settle(config: Config, settlement: Settlement, actualMicros: number, actualTokens: number): Promise<void> {
  const work: Promise<void>[] = [];
  if (settlement.spend !== undefined) work.push(settleSpend(config, settlement.spend, actualMicros));
  if (settlement.tokens > 0) work.push(correctTokens(config, settlement.caller, actualTokens - settlement.tokens));
  await Promise.all(work);
}
