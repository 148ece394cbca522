/**
 * The book an isolate keeps for one key (allowances.ts): the token and spend slices it
 * holds, the key's bucket as it last saw it, and its rates here; what can be read off a
 * book and taken from it; and the Redis keys its counterparts live under. Nothing here
 * calls Redis.
 */
import { redisKey } from "../storage/redis.ts";
import { TOKEN_WINDOW_MS } from "./allowance-script.ts";
import { spendCounters } from "./budgets.ts";
import type { Caller } from "./caller.ts";
import type { LimitOutcome, LimitState } from "./limits.ts";

/** How long a token slice may be drawn on after it was asked for. */
export const TOKEN_LEASE_MS = 6_000;
/** How long a spend slice may be drawn on after it was asked for. */
export const SPEND_LEASE_MS = 20_000;
/**
 * How long Redis keeps a spend slice carved out after its grant: its lease, and time
 * for the requests reserved from it to end and be reported. What is still held then
 * comes back (from an isolate that died holding it, or went quiet).
 */
export const HOLD_MS = SPEND_LEASE_MS + 10 * 60_000;
const RATE_SMOOTHING = 8;

/** One scope's counters and holdings in Redis (allowance-script.ts): the key's, or its tenant's. */
export type Scope = {
  hold: string;
  spentDay: string;
  committedDay: string;
  spentMonth: string;
  committedMonth: string;
  /** The day's and the month's budgets in micro-dollars (-1: none). */
  dayMicros: number;
  monthMicros: number;
};
export type TokenSlice = { count: number; used: number; until: number };
/** `inflight`: requests reserved from it and not yet settled, and the micro-dollars they hold (`inflightMicros`). */
export type SpendSlice = { id: string; day: string; scopes: Scope[]; granted: number; free: number; until: number; inflight: number; inflightMicros: number };

export type Book = {
  tokens: TokenSlice[];
  /** The bucket as this isolate last knew it (after its last grant, and its own corrections since), and when (local ms). */
  bucket: { left: number; at: number } | undefined;
  spend: SpendSlice[];
  /** Tokens and micro-dollars reserved per ms, smoothed; the time of the last reservation. */
  tokenRate: number;
  spendRate: number;
  lastAt: number;
  /** The refill on its way, if one is (Grants's `refillIfLow`). */
  refill: Promise<unknown> | undefined;
  /** Until when a refill is not worth sending: the last one brought nothing. */
  dryUntil: number;
  seq: number;
  /** What the last refusal for spent money said, while it holds (allowances.ts's `reserve`). */
  spent: SpentBudget | undefined;
};

/**
 * A budget found spent: what it had not spent then (`unspent`, the least over the key's
 * and its tenant's budgets; it can only fall until the day ends or a budget changes), the
 * budget that refused, and the room it reported, on the UTC day of the refusal and under
 * the budgets the key had then (`budgets`, a top-up changes them).
 */
export type SpentBudget = { day: string; budgets: string; unspent: number; passed: number; room: number };

/** What a request reserved of its budgets: `micros` from a slice (`slice` undefined for a key without a budget, charged as it goes). */
export type Reservation = { micros: number; slice: SpendSlice | undefined; scopes: Scope[] };

/** A key's book before its first grant here: no slices, no bucket seen, no rate yet. */
export function emptyBook(): Book {
  return { tokens: [], bucket: undefined, spend: [], tokenRate: 0, spendRate: 0, lastAt: 0, refill: undefined, dryUntil: 0, seq: 0, spent: undefined };
}

/** A key whose limits, budgets or tenant changed starts a new book: its old slices come back by expiry. */
export function bookName(caller: Caller): string {
  const { keyId, tpm, dailyBudgetUsd, monthlyBudgetUsd, tenantId, tenantBudgets } = caller;
  return [keyId, tpm, dailyBudgetUsd, monthlyBudgetUsd, tenantId, tenantBudgets.dailyUsd, tenantBudgets.monthlyUsd].join(":");
}

/** Each scope's keys: its spent counters are budgets.ts's (one place names them), the rest beside them. */
export function scopesOf(config: { keyPrefix: string }, caller: Caller, now: Date): Scope[] {
  const counters = spendCounters(config, caller, now);
  const scopes: Scope[] = [];
  for (let i = 0; i < counters.length; i += 2) {
    const [day, month] = [counters[i]!, counters[i + 1]!];
    scopes.push({
      hold: day.key.replace(/:d:\d+$/, ":hold"),
      spentDay: day.key,
      committedDay: `${day.key}:committed`,
      spentMonth: month.key,
      committedMonth: `${month.key}:committed`,
      dayMicros: day.limitMicros,
      monthMicros: month.limitMicros,
    });
  }
  return scopes;
}
export const scopeKeys = (scopes: Scope[]): string[] => scopes.flatMap((s) => [s.hold, s.spentDay, s.committedDay, s.spentMonth, s.committedMonth]);
export const bucketKey = (config: { keyPrefix: string }, caller: Caller): string => redisKey(config, "limit", `tokens:${caller.keyId}`);

export const freeTokens = (book: Book, now: number): number => book.tokens.reduce((sum, s) => sum + (s.until > now ? s.count - s.used : 0), 0);
/** The bucket refilled to now, at the limit a minute, as TOKEN_PEEK counts it. */
export const level = (tpm: number, bucket: { left: number; at: number }, now: number): number =>
  Math.min(tpm, bucket.left + (Math.max(0, now - bucket.at) * tpm) / TOKEN_WINDOW_MS);
/**
 * The bucket is below zero, as this isolate last saw it: answers used more than their
 * estimates, and the corrections are a debt. Until it has refilled, no request draws on
 * a slice granted before (else the debt would be spent again, from the slice).
 */
export const inDebt = (caller: Caller, book: Book, now: number): boolean =>
  caller.tpm !== null && book.bucket !== undefined && level(caller.tpm, book.bucket, now) < 0;
export const tokenState = (caller: Caller, book: Book, now: number): LimitState | undefined => {
  if (book.bucket === undefined || caller.tpm === null) return undefined;
  const tokens = level(caller.tpm, book.bucket, now);
  return {
    limit: caller.tpm,
    remaining: Math.max(0, Math.floor(tokens) + freeTokens(book, now)),
    resetMs: Math.ceil((Math.max(0, caller.tpm - tokens) * TOKEN_WINDOW_MS) / caller.tpm),
  };
};
export const tokenOutcome = (caller: Caller, book: Book, now: number): LimitOutcome | undefined => {
  if (caller.tpm === null) return undefined;
  const state = tokenState(caller, book, now);
  return state === undefined ? { checked: false } : { checked: true, state };
};

export const takeTokens = (book: Book, amount: number, now: number): boolean => {
  if (freeTokens(book, now) < amount) return false;
  let owed = amount;
  for (const slice of book.tokens) {
    if (slice.until <= now) continue;
    const part = Math.min(owed, slice.count - slice.used);
    slice.used += part;
    owed -= part;
  }
  return true;
};
/** The first of `amounts` a slice of `day` still in its lease (or `lateMs` past it) holds, taken from it. */
export const takeSpend = (book: Book, amounts: number[], day: string, now: number, lateMs = 0): Omit<Reservation, "scopes"> | undefined => {
  for (const micros of amounts) {
    const slice = book.spend.find((s) => s.until + lateMs > now && s.day === day && s.free >= micros);
    if (slice === undefined) continue;
    slice.free -= micros;
    slice.inflight += 1;
    slice.inflightMicros += micros;
    return { micros, slice };
  }
  return undefined;
};

/** The key's rates here, smoothed; the first gap sets them outright, so a key is warm after its second request. */
export const note = (book: Book, tokens: number, micros: number, now: number): void => {
  if (book.lastAt > 0) {
    const gap = Math.max(1, now - book.lastAt);
    const first = book.tokenRate === 0 && book.spendRate === 0;
    book.tokenRate += (tokens / gap - book.tokenRate) / (first ? 1 : RATE_SMOOTHING);
    book.spendRate += (micros / gap - book.spendRate) / (first ? 1 : RATE_SMOOTHING);
  }
  book.lastAt = now;
};
