/**
 * What a request reserves before its provider call (tokens against the key's tokens
 * per minute, micro-dollars against its budgets, both from the isolate's slices:
 * allowances.ts), made and put right in one place.
 */

import type { ScriptRunner } from "../storage/scripts.ts";
import type { Allowances, Held } from "./allowances.ts";
import type { Caller } from "./caller.ts";
import { type LimitOutcome, withTokensBack } from "./limits.ts";

export type Settlement = Held & {
  caller: Caller;
  /** Why the reservation was refused: nothing is held then. */
  refusal: unknown;
};

export type Reserves = { allowances: Allowances };

/**
 * Reserves the request's estimated cost (or `orMicros`, when only that fits) and its
 * estimated tokens. A refusal is kept in the settlement, for the request to fail with.
 */
export async function reserveFor(
  reserves: Reserves,
  caller: Caller,
  estimate: { micros: number; orMicros?: number; tokens: number },
  defer: (work: Promise<unknown>) => void,
  via?: ScriptRunner,
): Promise<Settlement> {
  try {
    return { ...(await reserves.allowances.reserve(caller, estimate, defer, via)), caller, refusal: undefined };
  } catch (refusal) {
    return { caller, tokens: 0, spend: undefined, tokenLimit: undefined, refusal };
  }
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

/** Moves what was reserved to what was really used (nothing, for an answer that failed); the spend is counted by the batch. */
export function settle(reserves: Reserves, settlement: Settlement, actualMicros: number, actualTokens: number): void {
  if (settlement.refusal !== undefined) return;
  reserves.allowances.settle(settlement.caller, settlement, actualMicros, actualTokens);
}
