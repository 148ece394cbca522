/**
 * Grant and refill (allowances.ts): a grant is one ALLOWANCE_LEASE call that takes new
 * token and spend slices for a book and gives back what its spent slices left; a refill
 * is a grant in the background, sent when a book runs low. With Redis down a grant says
 * `down` and moves nothing: the caller decides (tokens open, budgets closed).
 */
import type { Tracked } from "../storage/availability.ts";
import { runScript, type ScriptRunner } from "../storage/scripts.ts";
import { type Book, bucketKey, freeTokens, inDebt, type Scope, type SpendSlice, scopeKeys, TOKEN_LEASE_MS, tokenState } from "./allowance-book.ts";
import { ALLOWANCE_LEASE, TOKEN_WINDOW_MS } from "./allowance-script.ts";
import { hasBudget } from "./budgets.ts";
import type { Caller } from "./caller.ts";
import type { LimitState } from "./limits.ts";

/** The most of a tokens limit one slice takes. */
const LARGEST_SHARE = 10;

/** What grants run with: made once by createAllowances. */
export type GrantContext = {
  keyPrefix: string;
  redis: ScriptRunner | undefined;
  tracked: Tracked;
  clock: () => number;
  spendLeaseMs: number;
  holdMs: number;
  /** Names this isolate's slices in Redis. */
  instance: string;
};

/** What a request needs of a grant: its tokens, the least micro-dollars it can run on, and what it would rather hold. */
export type Need = { tokens: number; micros: number; prefer: number };
export type Defer = (work: Promise<unknown>) => void;
export type Granted =
  | { kind: "granted" }
  | { kind: "tokens short"; retryMs: number; state: LimitState }
  | { kind: "tokens never" }
  | { kind: "budget"; passed: number; room: number; unspent: number; backMs: number }
  | { kind: "down" };

export type Grants = {
  /**
   * One grant, for `need` (zeros: a refill; `undefined`: only give back); gives back what
   * spent slices left. A money slice is given back by itself when its lease ends, if no
   * request holds part of it then (`defer` keeps the isolate for that).
   */
  grant(caller: Caller, book: Book, scopes: Scope[], day: string, need: Need | undefined, defer: Defer, via?: ScriptRunner): Promise<Granted>;
  /** Sends a refill in the background (`defer`) when the book runs low and none is on its way. */
  refillIfLow(caller: Caller, book: Book, scopes: Scope[], day: string, budgeted: boolean, defer: Defer): void;
};

export function createGrants(context: GrantContext): Grants {
  const { redis, tracked, clock, spendLeaseMs, holdMs, instance } = context;

  const grant: Grants["grant"] = async (caller, book, scopes, day, need, defer, via = redis) => {
    if (redis === undefined || via === undefined) return { kind: "down" };
    const askedAt = clock();
    const tpm = caller.tpm ?? -1;
    const budgeted = hasBudget(caller);
    const wanted = need ?? { tokens: 0, micros: 0, prefer: 0 };
    const tokenWant =
      caller.tpm === null || need === undefined
        ? 0
        : Math.max(need.tokens, Math.min(Math.ceil(caller.tpm / LARGEST_SHARE), Math.ceil(book.tokenRate * TOKEN_LEASE_MS)));
    const spendWant = budgeted && need !== undefined ? Math.max(need.prefer, Math.ceil(book.spendRate * spendLeaseMs), 1) : 0;
    // In debt, a request's grant gives back the live slices too: what they hold nets out the debt, and the bucket decides.
    const debt = need !== undefined && inDebt(caller, book, askedAt);
    const spentTokens = book.tokens.filter((s) => s.until <= askedAt || debt);
    const owed = -spentTokens.reduce((sum, s) => sum + s.count - s.used, 0);
    const spentSlices = book.spend.filter((s) => s.until <= askedAt && s.inflight === 0);
    // A request's grant gives back what live slices hold free too, netting out this isolate's own unspent money:
    // else a slice too small for the request keeps what it holds out of the budget's room until its lease ends.
    // (Not a refill's: the requests it runs beside draw on those slices meanwhile.)
    const netted = need === undefined || need.micros === 0 ? [] : book.spend.filter((s) => s.until > askedAt && s.free > 0 && s.day === day);
    const nettedFree = netted.map((s) => s.free);
    // A slice of another day is not given back here (its counters are not today's): its holding expires.
    const giveBack = [...spentSlices, ...netted].flatMap((s) => (s.free > 0 && s.day === day ? [`${s.id}|${s.day}`, String(s.free)] : []));
    for (const slice of netted) slice.free = 0;
    // Out of the book while their give-back is on its way; back in it if Redis does not answer.
    book.tokens = book.tokens.filter((s) => !spentTokens.includes(s));
    book.spend = book.spend.filter((s) => !spentSlices.includes(s));
    const id = `${instance}.${++book.seq}`;
    const limits = scopes.flatMap((s) => [String(s.dayMicros), String(s.monthMicros)]);
    let answer: [number, number, number, number, number, number, number, number, number, number, number];
    try {
      answer = await tracked("redis", () =>
        runScript(
          via,
          ALLOWANCE_LEASE,
          [bucketKey(context, caller), ...scopeKeys(scopes)],
          [
            id,
            day,
            String(holdMs),
            String(tpm),
            String(tokenWant),
            String(wanted.tokens),
            String(owed),
            String(spendWant),
            String(wanted.prefer),
            String(budgeted ? wanted.micros : 0),
            String(scopes.length),
            ...limits,
            ...giveBack,
          ],
        ),
      );
    } catch {
      book.tokens.unshift(...spentTokens);
      book.spend.unshift(...spentSlices);
      netted.forEach((slice, i) => {
        slice.free += nettedFree[i]!;
      });
      return { kind: "down" };
    }
    const now = clock();
    const [tokensOk, tokensGranted, tokensLeft, , spendOk, spendGranted, passed, room, unspent, oldestMs, ownHeld] = answer;
    // A refill that brought nothing: the next waits a second, so a spent key does not send one per request.
    if (need !== undefined && need.tokens === 0 && tokensGranted === 0 && spendGranted === 0) book.dryUntil = now + 1_000;
    if (caller.tpm !== null) book.bucket = { left: tokensLeft, at: now };
    if (tokensGranted > 0) book.tokens.push({ count: tokensGranted, used: 0, until: askedAt + TOKEN_LEASE_MS });
    if (spendGranted > 0) {
      const slice: SpendSlice = { id, day, scopes, granted: spendGranted, free: spendGranted, until: askedAt + spendLeaseMs, inflight: 0, inflightMicros: 0 };
      book.spend.push(slice);
      defer(
        new Promise((resolve) => setTimeout(resolve, Math.max(0, slice.until - clock()) + 1)).then(() =>
          book.spend.includes(slice) && slice.inflight === 0 && slice.free > 0 ? grant(caller, book, scopes, day, undefined, defer) : undefined,
        ),
      );
    }
    if (tokensOk === -1) return { kind: "tokens never" };
    if (tokensOk === 0) {
      const state = tokenState(caller, book, now)!;
      return { kind: "tokens short", state, retryMs: Math.ceil(((wanted.tokens - tokensLeft) * TOKEN_WINDOW_MS) / caller.tpm!) };
    }
    if (spendOk !== 1) {
      // A holding's money comes back when its lease ends, or, from an isolate gone quiet, when its holding expires.
      const back = oldestMs + spendLeaseMs > 0 ? oldestMs + spendLeaseMs : oldestMs + holdMs;
      // What this isolate's own holdings keep, less its requests in flight, is spent: charged here, its report on its way.
      const inflight = book.spend.reduce((sum, slice) => sum + (slice.day === day ? slice.inflightMicros : 0), 0);
      return { kind: "budget", passed, room, unspent: unspent - Math.max(0, ownHeld - inflight), backMs: Math.max(1_000, back) };
    }
    return { kind: "granted" };
  };

  /** Below half of what its newest slice brought, or past half its life: worth a refill in the background. */
  const low = (book: Book, caller: Caller, budgeted: boolean, now: number): boolean => {
    if (now < book.dryUntil) return false;
    const lowOf = (free: number, newest: { count: number; until: number } | undefined, leaseMs: number): boolean =>
      newest === undefined || free * 2 < newest.count || newest.until - now < leaseMs / 2;
    const newestSpend = book.spend.filter((s) => s.until > now).at(-1);
    const spendFree = book.spend.reduce((sum, s) => sum + (s.until > now ? s.free : 0), 0);
    return (
      (caller.tpm !== null && (book.bucket?.left ?? 1) > 0 && lowOf(freeTokens(book, now), book.tokens.at(-1), TOKEN_LEASE_MS)) ||
      (budgeted && lowOf(spendFree, newestSpend === undefined ? undefined : { count: newestSpend.granted, until: newestSpend.until }, spendLeaseMs))
    );
  };

  const refillIfLow: Grants["refillIfLow"] = (caller, book, scopes, day, budgeted, defer) => {
    if (book.refill !== undefined || !low(book, caller, budgeted, clock())) return;
    book.refill = grant(caller, book, scopes, day, { tokens: 0, micros: 0, prefer: 0 }, defer)
      .catch(() => {})
      .finally(() => {
        book.refill = undefined;
      });
    defer(book.refill);
  };

  return { grant, refillIfLow };
}
