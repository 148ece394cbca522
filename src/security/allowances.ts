/**
 * Tokens per minute and budgets by lease: an isolate takes a slice of a key's tokens
 * and of the micro-dollars of every budget that applies, in one script
 * (ALLOWANCE_LEASE), and reserves each request from it locally, so a warm key's
 * request makes no round trip for either. What a request really spent is counted in
 * Redis by the after-response batch (SETTLE_SPEND), beside its audit record.
 *
 * Budgets: a slice is carved out of every budget when it is granted (the committed
 * counters), so the spend of every isolate together never passes a budget by one
 * micro-dollar. A slice is at most a tenth of what a budget has left (and a request's
 * need at least), so near the end slices shrink to one request's estimate: today's
 * exact reservation. What a slice did not spend goes back when its lease ends (in the
 * background), or at the isolate's next grant if a request held part of it then; from
 * an isolate that was killed, when its holding expires (HOLD_MS), at the next grant of
 * any isolate of that key or tenant.
 * Tokens: a slice is debited from the key's bucket when granted; each request's
 * correction (used − estimated) rides its batch; a slice's unused tokens go back at the
 * next grant. Tokens admitted over any interval of length T, across every isolate: at
 * most tpm + tpm·(T + TOKEN_LEASE_MS)/60 s, counted as estimates. What answers use past
 * their estimates is a debt: the bucket goes below zero, and an isolate that knows it
 * draws nothing more on its slices until the bucket has refilled (docs/api.md).
 *
 * Failure policy. Tokens fail open, as before. Budgets fail closed, except that an
 * isolate holding a slice spends it while Redis is down: that money is already carved
 * out. Reports Redis could not take wait here, and go with the next batch.
 *
 * This file spends (reserve) and returns (settle, and the reports of what was spent);
 * slices are taken and topped up in allowance-grant.ts, and kept in allowance-book.ts.
 */
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import { runScript, type ScriptRunner } from "../storage/scripts.ts";
import {
  type Book,
  bookName,
  bucketKey,
  emptyBook,
  freeTokens,
  HOLD_MS,
  inDebt,
  level,
  note,
  type Reservation,
  SPEND_LEASE_MS,
  scopeKeys,
  scopesOf,
  takeSpend,
  takeTokens,
  tokenOutcome,
} from "./allowance-book.ts";
import { createGrants } from "./allowance-grant.ts";
import { TOKEN_PEEK } from "./allowance-script.ts";
import { BudgetHeld, BudgetSpent, budgetUnavailable, hasBudget, spendCounters, utcDay } from "./budgets.ts";
import type { Caller } from "./caller.ts";
import { type LimitOutcome, neverFits, overLimit } from "./limits.ts";

/** What one request holds, until it is settled. */
export type Held = {
  /** Tokens drawn from a slice (0: none, or unchecked). */
  tokens: number;
  tokenLimit: LimitOutcome | undefined;
  spend: Reservation | undefined;
};

/** A settled request's spend, for the after-response batch (SETTLE_SPEND). */
export type SpendReport = { keys: string[]; args: string[] };

export type Allowances = {
  /**
   * Reserves the request's estimated tokens and micro-dollars (or `orMicros`, when only
   * that fits) from the isolate's slices, taking slices first when they are short (one
   * round trip). 429 when either does not fit (a budget's: BudgetSpent, with what it could
   * still pay); 400 when the tokens never can; 503 when a budget cannot be checked and no
   * slice holds the request. `defer` takes a refill.
   */
  reserve(
    caller: Caller,
    estimate: { micros: number; orMicros?: number; tokens: number },
    defer: (work: Promise<unknown>) => void,
    via?: ScriptRunner,
  ): Promise<Held>;
  /** Puts right what `held` reserved with what was really used, here, and queues its report for the batch. */
  settle(caller: Caller, held: Held, actualMicros: number, actualTokens: number): void;
  /**
   * The tokens bucket as the next request will find it, moving nothing (for the headers
   * of answers that debit nothing): from this isolate's slices when it holds the key's,
   * else read from Redis (a read-only script a replica may answer).
   */
  peekTokens(caller: Caller): Promise<LimitOutcome | undefined>;
  /** The reports waiting for a batch; the batch puts back those Redis did not take. */
  takeReports(): { reports: SpendReport[]; putBack: () => void };
};

export function createAllowances(deps: {
  keyPrefix: string;
  redis: ScriptRunner | undefined;
  tracked: Tracked;
  clock: () => number;
  /** A spend slice's lease and how long Redis holds it (SPEND_LEASE_MS, HOLD_MS): shorter only in tests. */
  spendLeaseMs?: number;
  holdMs?: number;
}): Allowances {
  const { redis, tracked, clock } = deps;
  const spendLeaseMs = deps.spendLeaseMs ?? SPEND_LEASE_MS;
  const holdMs = deps.holdMs ?? HOLD_MS;
  const books = lru<Book>(10_000);
  const instance = crypto.randomUUID().slice(0, 8);
  const { grant, refillIfLow } = createGrants({ keyPrefix: deps.keyPrefix, redis, tracked, clock, spendLeaseMs, holdMs, instance });
  let reports: SpendReport[] = [];

  const bookOf = (caller: Caller): Book => {
    const name = bookName(caller);
    let book = books.get(name);
    if (book === undefined) {
      book = emptyBook();
      books.set(name, book);
    }
    return book;
  };

  return {
    async reserve(caller, estimate, defer, via) {
      const book = bookOf(caller);
      const now = new Date();
      const day = utcDay(now);
      const scopes = scopesOf(deps, caller, now);
      const tpm = caller.tpm;
      const tokens = tpm === null ? 0 : Math.max(1, Math.ceil(estimate.tokens));
      const budgeted = hasBudget(caller);
      const { micros } = estimate;
      const least = Math.min(micros, estimate.orMicros ?? micros);
      note(book, tokens, micros, clock());
      /** Both from the slices, or neither; with Redis down, tokens go unchecked and a slice may be spent `lateMs` past its lease. */
      const take = (down: boolean): Held | undefined => {
        const now = clock();
        if (tpm !== null && !down && (freeTokens(book, now) < tokens || inDebt(caller, book, now))) return undefined;
        let spend: Reservation = { micros, slice: undefined, scopes };
        if (budgeted) {
          const taken = takeSpend(book, [micros, least], day, now, down ? holdMs / 2 - spendLeaseMs : 0);
          if (taken === undefined) return undefined;
          spend = { ...taken, scopes };
        }
        const drawn = tpm !== null && takeTokens(book, tokens, now);
        return { tokens: drawn ? tokens : 0, tokenLimit: drawn ? tokenOutcome(caller, book, now) : tpm === null ? undefined : { checked: false }, spend };
      };
      let held = take(false);
      // A refill of this isolate's on its way brings money Redis already counts as held here: wait for it rather than
      // ask again, or the grant's answer would count that money as spent here and not yet reported.
      if (held === undefined && book.refill !== undefined) {
        await book.refill;
        held = take(false);
      }
      const waited = held === undefined;
      // Spent money stays spent until the day rolls over or a budget changes: a request that cannot fit what the last
      // refusal found unspent is refused here, without a call to the primary.
      const spent = book.spent;
      if (held === undefined && spent !== undefined && spent.day === day && spent.budgets === budgetsOf(caller) && least > spent.unspent) {
        throw new BudgetSpent(spendCounters(deps, caller)[spent.passed - 1]!, spent.room);
      }
      // Another request of this isolate may take what a grant brought: a second grant, then no more.
      for (let tries = 0; held === undefined && tries < 2; tries++) {
        const need = { tokens, micros: budgeted ? least : 0, prefer: budgeted ? micros : 0 };
        // The first grant goes with the request's other calls (storage/joint.ts); a second, after them, straight to Redis.
        const granted = await grant(caller, book, scopes, day, need, defer, tries === 0 ? via : redis);
        if (granted.kind === "tokens never") throw neverFits(tpm!, tokens);
        if (granted.kind === "tokens short") throw overLimit("tokens", tpm!, granted.state, granted.retryMs);
        if (granted.kind === "budget") {
          const counter = spendCounters(deps, caller)[granted.passed - 1]!;
          // Money is left, but other requests' slices hold it: retryable, when the soonest of them comes back.
          if (granted.unspent >= need.micros) throw new BudgetHeld(counter, granted.backMs);
          // What one request could still be reserved: a new slice of the budget's room, or the most one slice here holds.
          const now = clock();
          const local = Math.max(0, ...book.spend.filter((s) => s.until > now && s.day === day).map((s) => s.free));
          const room = Math.max(granted.room, local);
          book.spent = { day, budgets: budgetsOf(caller), unspent: granted.unspent, passed: granted.passed, room };
          throw new BudgetSpent(counter, room);
        }
        held = take(granted.kind === "down");
        if (granted.kind === "down" && held === undefined) throw budgetUnavailable();
      }
      if (held === undefined) throw budgetUnavailable();
      // Not after a grant this request waited for: its size was already the key's rate here.
      if (!waited) refillIfLow(caller, book, scopes, day, budgeted, defer);
      return held;
    },

    settle(caller, held, actualMicros, actualTokens) {
      const spend = held.spend;
      if (spend?.slice !== undefined) {
        spend.slice.inflight -= 1;
        spend.slice.inflightMicros -= spend.micros;
        spend.slice.free += spend.micros - Math.min(actualMicros, spend.micros);
      }
      let correction = held.tokens > 0 ? Math.round(actualTokens) - held.tokens : 0;
      const book = books.get(bookName(caller));
      const now = clock();
      // Tokens used past the estimate are paid first from this isolate's live slices (debited already), so a slice
      // granted before the overrun cannot serve it again; only the rest goes to the bucket, as a debt.
      if (correction > 0 && book !== undefined) {
        const paid = Math.min(correction, freeTokens(book, now));
        takeTokens(book, paid, now);
        correction -= paid;
      }
      // The bucket as the batch will leave it: what the next request here will find.
      if (correction !== 0 && caller.tpm !== null && book?.bucket !== undefined) {
        book.bucket = { left: Math.min(caller.tpm, level(caller.tpm, book.bucket, now) - correction), at: now };
      }
      const micros = spend === undefined ? 0 : actualMicros;
      if ((correction === 0 && micros <= 0) || redis === undefined) return;
      const scopes = spend?.scopes ?? scopesOf(deps, caller, new Date());
      const member = spend?.slice === undefined ? "" : `${spend.slice.id}|${spend.slice.day}`;
      reports.push({
        keys: [bucketKey(deps, caller), ...scopeKeys(scopes)],
        args: [String(scopes.length), String(caller.tpm ?? -1), String(correction), member, String(Math.max(0, micros))],
      });
    },

    async peekTokens(caller) {
      if (caller.tpm === null) return undefined;
      const book = books.get(bookName(caller));
      const local = book === undefined ? undefined : tokenOutcome(caller, book, clock());
      if (local?.checked === true) return local;
      if (redis === undefined) return { checked: false };
      try {
        const [, tokens, fullMs] = await tracked("redis", () =>
          runScript<[number, number, number]>(redis, TOKEN_PEEK, [bucketKey(deps, caller)], [String(caller.tpm)]),
        );
        return { checked: true, state: { limit: caller.tpm!, remaining: Math.max(0, tokens), resetMs: fullMs } };
      } catch {
        return { checked: false };
      }
    },

    takeReports() {
      const taken = reports;
      reports = [];
      return { reports: taken, putBack: () => (reports = [...taken, ...reports]) };
    },
  };
}

/** The key's budgets and its tenant's, as one text: a refusal for spent money holds only while they stay the same. */
const budgetsOf = (caller: Caller): string =>
  `${caller.dailyBudgetUsd}|${caller.monthlyBudgetUsd}|${caller.tenantBudgets.dailyUsd}|${caller.tenantBudgets.monthlyUsd}`;
