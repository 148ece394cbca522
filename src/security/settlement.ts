/**
 * What a request reserves before its provider call (tokens against the key's tokens
 * per minute, micro-dollars against its budgets), made and put right in one place.
 */
import type { Budgets, Reservation } from "./budgets.ts";
import type { Caller } from "./caller.ts";
import { type Limiter, type LimitOutcome, withTokensBack } from "./limits.ts";

export type Settlement = {
  caller: Caller;
  /** Tokens debited against the key's tokens per minute (0: none). */
  tokens: number;
  spend: Reservation | undefined;
  /** The tokens-per-minute check, for the answer's headers and the audit's note. */
  tokenLimit: LimitOutcome | undefined;
  /** Why the reservation was refused, when one side was: what the other side took is still held, to be given back. */
  refusal: unknown;
};

export type Reserves = { budgets: Budgets; limiter: Limiter };

/**
 * Reserves the request's estimated cost (or `orMicros`, when only that fits) and debits
 * its estimated tokens, side by side (two Redis calls in parallel, not one after the other). When either is refused, the
 * settlement says why and holds what the other took: the request fails with the
 * refusal, and settling it at nothing (after the response) gives that back.
 */
export async function reserveFor(reserves: Reserves, caller: Caller, estimate: { micros: number; orMicros?: number; tokens: number }): Promise<Settlement> {
  const [spend, debit] = await Promise.allSettled([
    reserves.budgets.reserve(caller, estimate.micros, estimate.orMicros),
    reserves.limiter.debitTokens(caller, estimate.tokens),
  ]);
  const settlement: Settlement = {
    caller,
    tokens: debit.status === "fulfilled" && debit.value?.checked ? Math.max(1, Math.ceil(estimate.tokens)) : 0,
    spend: spend.status === "fulfilled" ? spend.value : undefined,
    tokenLimit: debit.status === "fulfilled" ? debit.value : undefined,
    refusal: spend.status === "rejected" ? spend.reason : debit.status === "rejected" ? debit.reason : undefined,
  };
  return settlement;
}

/** A request that reserved nothing (an isolate cache hit), with the tokens bucket as it stands, for its headers. */
export function nothingReserved(caller: Caller, tokenLimit: LimitOutcome | undefined): Settlement {
  return { caller, tokens: 0, spend: undefined, tokenLimit, refusal: undefined };
}

/**
 * The settlement of a request that will be charged nothing (a cache hit, a refusal):
 * settling it gives everything back, so its tokens headers show the bucket as the
 * next request will find it, with this request's debit returned.
 */
export function toGiveBack(settlement: Settlement | undefined): Settlement | undefined {
  if (settlement?.tokenLimit === undefined) return settlement;
  return { ...settlement, tokenLimit: withTokensBack(settlement.tokenLimit, settlement.tokens) };
}

/** Moves what was reserved to what was really used: nothing, for an answer that failed. */
export async function settle(reserves: Reserves, settlement: Settlement, actualMicros: number, actualTokens: number): Promise<void> {
  const work: Promise<void>[] = [];
  if (settlement.spend !== undefined) work.push(reserves.budgets.settle(settlement.spend, actualMicros));
  if (settlement.tokens > 0) work.push(reserves.limiter.correctTokens(settlement.caller, actualTokens - settlement.tokens));
  await Promise.all(work);
}
