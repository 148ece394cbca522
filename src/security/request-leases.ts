/**
 * Requests per minute by lease: an isolate takes a slice of a key's requests from Redis
 * (one script, REQUEST_LEASE) and admits from it locally, so a warm key's request makes
 * no round trip for its limit. Each grant is logged in Redis at Redis's time, and a
 * granted request may be admitted only within LEASE_MS of when its grant was asked for;
 * a grant is refused when the grants in the last window + LEASE_MS (+ 1 s of clock slack) would pass the limit.
 * So, across every isolate: never more than N requests admitted in any window (60 s).
 * (Any admission at t comes from a grant in [t − LEASE_MS, t]; every grant that could
 * feed a window [a, a + 60 s] lies in [a − LEASE_MS, a + 60 s], and the last of them
 * was checked against all the others.) Unused requests of a spent grant are given back
 * at the next grant, so a quiet isolate strands at most one slice, for one window.
 * The cost: a key run steadily at its limit gets at least N·60/67 (90 %) a minute.
 * Replaces `@upstash/ratelimit`'s sliding window here, which is approximate (it let a
 * key with rpm 1 make two requests 0.4 s apart across a minute boundary) and writes to
 * the primary on every request.
 */
import type { Tracked } from "../storage/availability.ts";
import { redisKey } from "../storage/redis.ts";
import { type LuaScript, runScript, type ScriptRunner } from "../storage/scripts.ts";

/**
 * KEYS[1]: the key's grant log (a sorted set: member "<grant id>:<count>", score the
 * grant's Redis ms). ARGV: limit, span (window + lease ms), want, need (0 or 1), the new
 * grant's id, then pairs of (member, used) to give back. Returns {1, free after the
 * grant, ms until the oldest grant leaves the span, the grant's member, its count}, or
 * {0, free, ms until `need` fits}.
 */
export const REQUEST_LEASE: LuaScript = {
  source: `#!lua flags=allow-key-locking
local limit, span, want, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function count(member) return tonumber(string.match(member, ':(%d+)$')) end
for i = 6, #ARGV - 1, 2 do
  local member, used = ARGV[i], tonumber(ARGV[i + 1])
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and used < count(member) then
    redis.call('ZREM', KEYS[1], member)
    if used > 0 then redis.call('ZADD', KEYS[1], score, string.match(member, '^(.*):%d+$') .. ':' .. used) end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - span))
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local taken = 0
for i = 1, #entries, 2 do taken = taken + count(entries[i]) end
local free = limit - taken
if need > free then
  local missing, wait = need - free, span
  for i = 1, #entries, 2 do
    missing = missing - count(entries[i])
    if missing <= 0 then wait = tonumber(entries[i + 1]) + span - now break end
  end
  return {0, math.max(0, free), math.max(1, wait)}
end
local grant, member = math.min(want, free), ''
if grant > 0 then
  member = ARGV[5] .. ':' .. grant
  redis.call('ZADD', KEYS[1], now, member)
end
redis.call('PEXPIRE', KEYS[1], span)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then reset = tonumber(oldest[2]) + span - now end
return {1, free - grant, reset, member, grant}`,
  sha1: "9beb8f58b9d334b102312e5e425d5576d46e73a7",
};

/** How long a granted request stays usable after its grant was asked for. */
export const LEASE_MS = 6_000;
/**
 * Added to the span a grant is counted over: workerd's clock stands still while a request
 * computes (it moves on I/O), so an isolate may admit a little after its own `until`.
 */
const CLOCK_SLACK_MS = 1_000;
/** The most of a key's limit one grant takes: a tenth, so a stranded slice costs the other isolates little. */
const LARGEST_SHARE = 10;
/** The rate each book remembers is smoothed over about this many admissions. */
const RATE_SMOOTHING = 8;
/** Books kept per isolate; past that the least recent key's is dropped (its slice comes back with its window). */
const BOOKS_MAX = 10_000;

type Grant = { member: string; count: number; used: number; until: number };
type Book = {
  limit: number;
  grants: Grant[];
  /** Free in Redis after this isolate's last grant, and when the oldest grant there leaves the span (local ms). */
  remote: { free: number; resetAt: number };
  /** Admissions per ms, smoothed; the time of the last one. */
  rate: number;
  lastAt: number;
  /** A refill is on its way: at most one per book. */
  refilling: boolean;
  /** Redis refused this key a request until then (local ms): refused here until then, with no round trip. */
  refusedUntil: number;
  seq: number;
};

/** How the key's requests stand for the next request: the limit, what it may still make, and when the oldest grant leaves the window. */
export type RequestState = { limit: number; remaining: number; resetMs: number };
/** Admitted; refused (the limiter's 429: `resetMs` is when one request fits); or unchecked, for want of Redis and of a slice. */
export type Admission = { kind: "admitted"; state: RequestState } | { kind: "refused"; state: RequestState } | { kind: "unchecked" };

export type RequestLeases = {
  /**
   * Admits one request of the key from the isolate's slice, or takes a slice first (one
   * round trip, through `via` when given: the request's joint, storage/joint.ts). `defer`
   * receives a refill started in the background, for `waitUntil`.
   */
  admit(keyId: string, limit: number, defer: (work: Promise<unknown>) => void, via?: ScriptRunner): Promise<Admission>;
};

export function createRequestLeases(deps: {
  keyPrefix: string;
  redis: ScriptRunner | undefined;
  tracked: Tracked;
  clock: () => number;
  /** The window the limit counts over: a minute; shorter only in tests. */
  windowMs?: number;
}): RequestLeases {
  const { redis, tracked, clock } = deps;
  const windowMs = deps.windowMs ?? 60_000;
  const leaseMs = Math.min(LEASE_MS, windowMs / 10);
  const spanMs = Math.ceil(windowMs + leaseMs + Math.min(CLOCK_SLACK_MS, windowMs / 60));
  const books = new Map<string, Book>();
  const instance = crypto.randomUUID().slice(0, 8);

  const bookOf = (keyId: string, limit: number): Book => {
    const name = `${keyId}:${limit}`;
    let book = books.get(name);
    if (book !== undefined) {
      books.delete(name); // kept in order of use
    } else {
      book = { limit, grants: [], remote: { free: limit, resetAt: 0 }, rate: 0, lastAt: 0, refilling: false, refusedUntil: 0, seq: 0 };
      if (books.size >= BOOKS_MAX) books.delete(books.keys().next().value!);
    }
    books.set(name, book);
    return book;
  };

  const free = (book: Book, now: number): number => book.grants.reduce((sum, g) => sum + (g.until > now ? g.count - g.used : 0), 0);

  const state = (book: Book, now: number): RequestState => ({
    limit: book.limit,
    remaining: Math.max(0, free(book, now) + book.remote.free),
    resetMs: Math.max(0, book.remote.resetAt - now),
  });

  /** One grant: `need` 1 for a request waiting on it, 0 for a refill. `undefined` when Redis cannot answer. */
  const grant = async (keyId: string, book: Book, need: 0 | 1, via = redis): Promise<"granted" | "refused" | undefined> => {
    if (redis === undefined || via === undefined) return undefined;
    const askedAt = clock();
    const want = Math.max(1, Math.min(Math.ceil(book.limit / LARGEST_SHARE), Math.ceil(book.rate * leaseMs)));
    const spent = book.grants.filter((g) => g.until <= askedAt);
    const giveBack = spent.flatMap((g) => (g.used < g.count ? [g.member, String(g.used)] : []));
    const id = `${instance}.${++book.seq}`;
    let answer: [number, number, number, string?, number?];
    try {
      answer = await tracked("redis", () =>
        runScript(
          via,
          REQUEST_LEASE,
          [redisKey(deps, "limit", `requests:${keyId}`)],
          [String(book.limit), String(spanMs), String(Math.max(want, need)), String(need), id, ...giveBack],
        ),
      );
    } catch {
      return undefined;
    }
    const now = clock();
    book.grants = book.grants.filter((g) => !spent.includes(g));
    const [ok, remoteFree, ms, member, count] = answer;
    book.remote = { free: remoteFree, resetAt: now + ms };
    if (ok !== 1) {
      book.refusedUntil = now + ms;
      return "refused";
    }
    if (member !== undefined && member !== "" && count !== undefined && count > 0) book.grants.push({ member, count, used: 0, until: askedAt + leaseMs });
    return "granted";
  };

  /** Takes one request from the book's live grants, the oldest first. */
  const take = (book: Book, now: number): boolean => {
    const live = book.grants.find((g) => g.until > now && g.used < g.count);
    if (live === undefined) return false;
    live.used += 1;
    return true;
  };

  return {
    async admit(keyId, limit, defer, via) {
      const book = bookOf(keyId, limit);
      const now = clock();
      // The first gap sets the rate outright, so a key is warm after its second request.
      if (book.lastAt > 0) {
        const gap = Math.max(1, now - book.lastAt);
        book.rate += (1 / gap - book.rate) / (book.rate === 0 ? 1 : RATE_SMOOTHING);
      }
      book.lastAt = now;
      // Redis said when one request fits: until then the answer is the same, and needs no round trip.
      if (free(book, now) === 0 && now < book.refusedUntil) return { kind: "refused", state: state(book, now) };
      // Another request of this isolate may take what a grant brought: a second grant, then no more.
      let waited = false;
      for (let tries = 0; !take(book, clock()); tries++) {
        waited = true;
        // The first grant goes with the request's other calls; a second, after them, straight to Redis.
        const granted = await grant(keyId, book, 1, tries === 0 ? via : redis);
        if (take(book, clock())) break;
        if (granted === undefined) return { kind: "unchecked" };
        // Refused, book.remote.resetAt is when one request will fit again.
        if (granted === "refused" || tries === 1) return { kind: "refused", state: state(book, clock()) };
      }
      // Below half of what a grant gives, or past half its life: the next slice comes in the background
      // (not after a grant this request waited for: its size was already the key's rate here).
      const left = free(book, clock());
      const newest = book.grants.at(-1);
      const low = newest === undefined || left * 2 < newest.count || newest.until - clock() < leaseMs / 2;
      if (low && !waited && !book.refilling && book.remote.free > 0) {
        book.refilling = true;
        defer(grant(keyId, book, 0).finally(() => (book.refilling = false)));
      }
      return { kind: "admitted", state: state(book, clock()) };
    },
  };
}
