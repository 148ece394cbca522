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
 */
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import { redisKey } from "../storage/redis.ts";
import { runScript, type ScriptRunner } from "../storage/scripts.ts";
import { ALLOWANCE_LEASE, TOKEN_PEEK, TOKEN_WINDOW_MS } from "./allowance-script.ts";
import { BudgetHeld, BudgetSpent, budgetUnavailable, hasBudget, spendCounters, utcDay } from "./budgets.ts";
import type { Caller } from "./caller.ts";
import { type LimitOutcome, type LimitState, neverFits, overLimit } from "./limits.ts";

/** How long a token slice may be drawn on after it was asked for. */
const TOKEN_LEASE_MS = 6_000;
/** How long a spend slice may be drawn on after it was asked for. */
const SPEND_LEASE_MS = 20_000;
/**
 * How long Redis keeps a spend slice carved out after its grant: its lease, and time
 * for the requests reserved from it to end and be reported. What is still held then
 * comes back (from an isolate that died holding it, or went quiet).
 */
export const HOLD_MS = SPEND_LEASE_MS + 10 * 60_000;
/** The most of a tokens limit one slice takes. */
const LARGEST_SHARE = 10;
const RATE_SMOOTHING = 8;

/** One scope's counters and holdings in Redis (allowance-script.ts): the key's, or its tenant's. */
type Scope = {
  hold: string;
  spentDay: string;
  committedDay: string;
  spentMonth: string;
  committedMonth: string;
  /** The day's and the month's budgets in micro-dollars (-1: none). */
  dayMicros: number;
  monthMicros: number;
};
type TokenSlice = { count: number; used: number; until: number };
/** `inflight`: requests reserved from it and not yet settled, and the micro-dollars they hold (`inflightMicros`). */
type SpendSlice = { id: string; day: string; scopes: Scope[]; granted: number; free: number; until: number; inflight: number; inflightMicros: number };

type Book = {
  tokens: TokenSlice[];
  /** The bucket as this isolate last knew it (after its last grant, and its own corrections since), and when (local ms). */
  bucket: { left: number; at: number } | undefined;
  spend: SpendSlice[];
  /** Tokens and micro-dollars reserved per ms, smoothed; the time of the last reservation. */
  tokenRate: number;
  spendRate: number;
  lastAt: number;
  refilling: boolean;
  /** Until when a refill is not worth sending: the last one brought nothing. */
  dryUntil: number;
  seq: number;
};

/** What a request reserved of its budgets: `micros` from a slice (`slice` undefined for a key without a budget, charged as it goes). */
export type Reservation = { micros: number; slice: SpendSlice | undefined; scopes: Scope[] };

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
  let reports: SpendReport[] = [];

  const bookOf = (caller: Caller): Book => {
    const name = bookName(caller);
    let book = books.get(name);
    if (book === undefined) {
      book = { tokens: [], bucket: undefined, spend: [], tokenRate: 0, spendRate: 0, lastAt: 0, refilling: false, dryUntil: 0, seq: 0 };
      books.set(name, book);
    }
    return book;
  };

  /** Each scope's keys: its spent counters are budgets.ts's (one place names them), the rest beside them. */
  const scopesOf = (caller: Caller, now: Date): Scope[] => {
    const counters = spendCounters(deps, caller, now);
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
  };
  const scopeKeys = (scopes: Scope[]): string[] => scopes.flatMap((s) => [s.hold, s.spentDay, s.committedDay, s.spentMonth, s.committedMonth]);
  const bucketKey = (caller: Caller): string => redisKey(deps, "limit", `tokens:${caller.keyId}`);

  const freeTokens = (book: Book, now: number): number => book.tokens.reduce((sum, s) => sum + (s.until > now ? s.count - s.used : 0), 0);
  /** The bucket refilled to now, at the limit a minute, as TOKEN_PEEK counts it. */
  const level = (tpm: number, bucket: { left: number; at: number }, now: number): number =>
    Math.min(tpm, bucket.left + (Math.max(0, now - bucket.at) * tpm) / TOKEN_WINDOW_MS);
  /**
   * The bucket is below zero, as this isolate last saw it: answers used more than their
   * estimates, and the corrections are a debt. Until it has refilled, no request draws on
   * a slice granted before (else the debt would be spent again, from the slice).
   */
  const inDebt = (caller: Caller, book: Book, now: number): boolean =>
    caller.tpm !== null && book.bucket !== undefined && level(caller.tpm, book.bucket, now) < 0;
  const tokenState = (caller: Caller, book: Book, now: number): LimitState | undefined => {
    if (book.bucket === undefined || caller.tpm === null) return undefined;
    const tokens = level(caller.tpm, book.bucket, now);
    return {
      limit: caller.tpm,
      remaining: Math.max(0, Math.floor(tokens) + freeTokens(book, now)),
      resetMs: Math.ceil((Math.max(0, caller.tpm - tokens) * TOKEN_WINDOW_MS) / caller.tpm),
    };
  };

  const takeTokens = (book: Book, amount: number, now: number): boolean => {
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
  const takeSpend = (book: Book, amounts: number[], day: string, now: number, lateMs = 0): Omit<Reservation, "scopes"> | undefined => {
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
  const tokenOutcome = (caller: Caller, book: Book, now: number): LimitOutcome | undefined => {
    if (caller.tpm === null) return undefined;
    const state = tokenState(caller, book, now);
    return state === undefined ? { checked: false } : { checked: true, state };
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

  type Need = { tokens: number; micros: number; prefer: number };
  type Defer = (work: Promise<unknown>) => void;
  type Granted =
    | { kind: "granted" }
    | { kind: "tokens short"; retryMs: number; state: LimitState }
    | { kind: "tokens never" }
    | { kind: "budget"; passed: number; room: number; unspent: number; backMs: number }
    | { kind: "down" };

  /**
   * One grant, for `need` (zeros: a refill; `undefined`: only give back); gives back what
   * spent slices left. A money slice is given back by itself when its lease ends, if no
   * request holds part of it then (`defer` keeps the isolate for that).
   */
  const grant = async (caller: Caller, book: Book, scopes: Scope[], day: string, need: Need | undefined, defer: Defer, via = redis): Promise<Granted> => {
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
          [bucketKey(caller), ...scopeKeys(scopes)],
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

  /** The key's rates here, smoothed; the first gap sets them outright, so a key is warm after its second request. */
  const note = (book: Book, tokens: number, micros: number, now: number): void => {
    if (book.lastAt > 0) {
      const gap = Math.max(1, now - book.lastAt);
      const first = book.tokenRate === 0 && book.spendRate === 0;
      book.tokenRate += (tokens / gap - book.tokenRate) / (first ? 1 : RATE_SMOOTHING);
      book.spendRate += (micros / gap - book.spendRate) / (first ? 1 : RATE_SMOOTHING);
    }
    book.lastAt = now;
  };

  return {
    async reserve(caller, estimate, defer, via) {
      const book = bookOf(caller);
      const now = new Date();
      const day = utcDay(now);
      const scopes = scopesOf(caller, now);
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
      const waited = held === undefined;
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
          throw new BudgetSpent(counter, Math.max(granted.room, local));
        }
        held = take(granted.kind === "down");
        if (granted.kind === "down" && held === undefined) throw budgetUnavailable();
      }
      if (held === undefined) throw budgetUnavailable();
      // Not after a grant this request waited for: its size was already the key's rate here.
      if (!waited && !book.refilling && low(book, caller, budgeted, clock())) {
        book.refilling = true;
        defer(
          grant(caller, book, scopes, day, { tokens: 0, micros: 0, prefer: 0 }, defer).finally(() => {
            book.refilling = false;
          }),
        );
      }
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
      const scopes = spend?.scopes ?? scopesOf(caller, new Date());
      const member = spend?.slice === undefined ? "" : `${spend.slice.id}|${spend.slice.day}`;
      reports.push({
        keys: [bucketKey(caller), ...scopeKeys(scopes)],
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
          runScript<[number, number, number]>(redis, TOKEN_PEEK, [bucketKey(caller)], [String(caller.tpm)]),
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

/** A key whose limits, budgets or tenant changed starts a new book: its old slices come back by expiry. */
function bookName(caller: Caller): string {
  const { keyId, tpm, dailyBudgetUsd, monthlyBudgetUsd, tenantId, tenantBudgets } = caller;
  return [keyId, tpm, dailyBudgetUsd, monthlyBudgetUsd, tenantId, tenantBudgets.dailyUsd, tenantBudgets.monthlyUsd].join(":");
}
