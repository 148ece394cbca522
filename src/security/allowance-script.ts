/**
 * The Lua of the allowance leases (allowances.ts): ALLOWANCE_LEASE grants a slice of a
 * key's tokens per minute and of its budgets in one script, and SETTLE_SPEND (a
 * function the after-response batch runs) counts what each request really spent.
 *
 * Money in Redis, per scope (the key, and its tenant when it has one), per UTC day
 * and month:
 *   spent      what was charged, exactly: the sum of the scope's audit rows' cost;
 *   committed  spent + what live slices still hold: what a budget is checked against;
 *   hold       a hash of the live slices: field "<lease id>|<day>", value "<ms (Redis
 *              time) at which what it still holds comes back>|<micros still held>".
 * A grant raises `committed` by the slice; a report of spend raises `spent` and lowers
 * the slice's holding by as much (or, for a slice already back, raises `committed`);
 * a give-back or an expiry lowers both the holding and `committed`. So committed =
 * spent + held at every step, and a grant that would take committed past a budget is
 * refused: the spend of every isolate together cannot pass it by one micro-dollar.
 * A scope's keys in KEYS, in this order: hold, spent day, committed day, spent month,
 * committed month.
 */
import type { LuaScript } from "../storage/scripts.ts";

/** The tokens bucket refills at its limit over this window: tokens per minute. */
export const TOKEN_WINDOW_MS = 60_000;

const DAY_TTL_SECONDS = 2 * 86_400;
const MONTH_TTL_SECONDS = 32 * 86_400;

/** Shared by both scripts: the token bucket, and one scope's counters and holdings. */
const HELPERS = `
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
-- The token bucket (hash: t tokens, at ms, d tokens debited in all), refilled to now.
local function level(key, limit, now)
  local state = redis.call('HMGET', key, 't', 'at')
  local tokens, at = tonumber(state[1]) or limit, tonumber(state[2]) or now
  return math.min(limit, tokens + math.max(0, now - at) * limit / ${TOKEN_WINDOW_MS})
end
local function fullMs(limit, tokens) return math.ceil(math.max(0, limit - tokens) * ${TOKEN_WINDOW_MS} / limit) end
-- Debits amount (a negative one refunds, up to the limit); kept until full again and a minute more.
local function debit(key, limit, tokens, amount, now)
  tokens = math.min(limit, tokens - amount)
  redis.call('HSET', key, 't', tostring(tokens), 'at', now)
  redis.call('HINCRBY', key, 'd', amount)
  redis.call('PEXPIRE', key, fullMs(limit, tokens) + ${TOKEN_WINDOW_MS})
  return tokens
end
local function add(key, amount, ttl)
  redis.call('INCRBY', key, amount)
  redis.call('EXPIRE', key, ttl, 'NX')
end
-- A committed counter never below its spent one (one written before leases, or lost).
local function init(keys, base)
  for which = 0, 2, 2 do
    local committed = keys[base + 2 + which]
    if redis.call('EXISTS', committed) == 0 then
      redis.call('SET', committed, redis.call('GET', keys[base + 1 + which]) or '0', 'EX', which == 0 and ${DAY_TTL_SECONDS} or ${MONTH_TTL_SECONDS})
    end
  end
end
-- A holding: field "<lease id>|<day>", value "<ms it expires>|<micros still held>".
local function holding(keys, base, field)
  local value = redis.call('HGET', keys[base], field)
  if not value then return nil end
  local expires, micros = string.match(value, '^(%d+)|(%d+)$')
  return tonumber(expires), tonumber(micros)
end
local function dayOf(field) return string.match(field, '|(%d+)$') end
-- What a holding of day gives back lowers the committed counters it was carved from, where they are today's.
local function release(keys, base, day, today, amount)
  if amount <= 0 then return end
  if day == today then redis.call('DECRBY', keys[base + 2], amount) end
  if string.sub(day, 1, 6) == string.sub(today, 1, 6) then redis.call('DECRBY', keys[base + 4], amount) end
end
-- Lowers a holding by amount (releasing it from the committed counters, or not); returns how much of amount it held.
local function lower(keys, base, field, amount, today, releasing)
  local expires, micros = holding(keys, base, field)
  if not expires then return 0 end
  local taken = math.min(amount, micros)
  if micros > taken then redis.call('HSET', keys[base], field, expires .. '|' .. (micros - taken)) else redis.call('HDEL', keys[base], field) end
  if releasing then release(keys, base, dayOf(field), today, taken) end
  return taken
end
`;

/**
 * KEYS: the token bucket, then each scope's five keys (see above). ARGV: the lease id,
 * today (YYYYMMDD), how long a slice is held (ms), then tokens: limit (-1: none), want,
 * need, owed (tokens used past earlier slices, or a negative: unused ones given back);
 * then micro-dollars: want (0: no slice), prefer, need; the number of scopes, each
 * scope's day and month budgets (-1: none); then pairs of (holding, micros) given back.
 * Expired holdings of every scope come back first. Returns {tokens: 1, or 0 when short
 * now, or -1 when `need` is over the limit; tokens granted; left; ms until full;
 * micros: 1 or 0 when `need` does not fit; micros granted; the index of the budget that
 * refused (day, month; key, then tenant); the room the tightest budget had; what the
 * tightest budget has not spent (held slices count as unspent); on a refusal, the ms
 * from now to when the oldest holding was granted (negative: in the past), from which
 * its lease's end is known, and what the holdings of this lease's isolate (its id's
 * part before the dot) hold in the refusing budget's scope}. Nothing is granted unless
 * both fit.
 */
export const ALLOWANCE_LEASE: LuaScript = {
  source: `#!lua flags=allow-key-locking
${HELPERS}
local now = nowMs()
local id, today, holdMs = ARGV[1], ARGV[2], tonumber(ARGV[3])
local tpm, tWant, tNeed, tOwed = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local mWant, mPrefer, mNeed = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local scopes = tonumber(ARGV[11])
local function base(s) return 2 + 5 * (s - 1) end
for s = 1, scopes do
  init(KEYS, base(s))
  for i = 12 + 2 * scopes, #ARGV - 1, 2 do lower(KEYS, base(s), ARGV[i], tonumber(ARGV[i + 1]), today, true) end
  local held = redis.call('HGETALL', KEYS[base(s)])
  for i = 1, #held, 2 do
    local expires, micros = string.match(held[i + 1], '^(%d+)|(%d+)$')
    if tonumber(expires) <= now then
      redis.call('HDEL', KEYS[base(s)], held[i])
      release(KEYS, base(s), dayOf(held[i]), today, tonumber(micros))
    end
  end
end
local tOk, tGrant, tokens = 1, 0, 0
if tpm >= 0 then
  tokens = level(KEYS[1], tpm, now)
  if tOwed ~= 0 then tokens = debit(KEYS[1], tpm, tokens, tOwed, now) end
  if tNeed > tpm then tOk = -1 elseif tNeed > tokens then tOk = 0 else tGrant = math.max(tNeed, math.min(tWant, math.floor(tokens))) end
end
local mOk, mGrant, passed, room, unspent, oldest, own = 1, 0, 0, nil, nil, nil, 0
if mWant > 0 then
  local tightest = 0
  for s = 1, scopes do
    for which = 0, 1 do
      local limit = tonumber(ARGV[11 + 2 * (s - 1) + which + 1])
      local b = base(s) + 2 * which
      local spent = tonumber(redis.call('GET', KEYS[b + 1]) or '0')
      local used = math.max(tonumber(redis.call('GET', KEYS[b + 2]) or '0'), spent)
      if limit >= 0 and (room == nil or limit - used < room) then room, tightest = limit - used, 2 * (s - 1) + which + 1 end
      if limit >= 0 and (unspent == nil or limit - spent < unspent) then unspent = limit - spent end
    end
  end
  if room == nil then room = mWant end
  room = math.max(0, room)
  if room < mNeed then
    mOk, passed = 0, tightest
    -- When the holdings in the way began to be held (their leases end from then on), and what this isolate's
    -- own hold in the refusing scope (its lease ids begin with the same instance as this one's).
    local mine = string.match(id, '^([^.]*)%.') or id
    for s = 1, scopes do
      local held = redis.call('HGETALL', KEYS[base(s)])
      for i = 1, #held, 2 do
        local expires, micros = string.match(held[i + 1], '^(%d+)|(%d+)$')
        local granted = tonumber(expires) - holdMs
        if oldest == nil or granted < oldest then oldest = granted end
        if s == math.floor((tightest + 1) / 2) and string.sub(held[i], 1, #mine + 1) == mine .. '.' then own = own + tonumber(micros) end
      end
    end
  else
    mGrant = math.min(mWant, room, math.max(mPrefer, math.floor(room / 10)))
  end
end
if tOk == 1 and mOk == 1 then
  if tGrant > 0 then tokens = debit(KEYS[1], tpm, tokens, tGrant, now) end
  if mGrant > 0 then
    for s = 1, scopes do
      add(KEYS[base(s) + 2], mGrant, ${DAY_TTL_SECONDS})
      add(KEYS[base(s) + 4], mGrant, ${MONTH_TTL_SECONDS})
      redis.call('HSET', KEYS[base(s)], id .. '|' .. today, (now + holdMs) .. '|' .. mGrant)
      redis.call('EXPIRE', KEYS[base(s)], ${MONTH_TTL_SECONDS})
    end
  end
else
  tGrant, mGrant = 0, 0
end
local full = 0
if tpm > 0 then full = fullMs(tpm, tokens) end
return {tOk, tGrant, math.floor(tokens), full, mOk, mGrant, passed, room or 0, math.max(0, unspent or 0), oldest and (oldest - now) or 0, own}`,
  sha1: "5f0f345eeb3af47b14f82a181989b542055b4f45",
};

/**
 * The batch's settlement of requests (batch-script.ts runs it over its slice of KEYS and
 * ARGV): per request, KEYS: its token bucket, then its scopes' keys; ARGV: the number
 * of scopes, the tokens limit (-1: none), the tokens to correct by (used − debited),
 * the holding it was reserved from ('' for none), the micro-dollars it was charged.
 */
export const SETTLE_SPEND = `
${HELPERS}
local now = nowMs()
local k, a = 1, 1
while a <= #ARGV do
  local scopes, tpm, correction, member, micros = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3], tonumber(ARGV[a + 4])
  if tpm > 0 and correction ~= 0 then debit(KEYS[k], tpm, level(KEYS[k], tpm, now), correction, now) end
  if micros > 0 then
    for s = 1, scopes do
      local b = k + 1 + 5 * (s - 1)
      init(KEYS, b)
      add(KEYS[b + 1], micros, ${DAY_TTL_SECONDS})
      add(KEYS[b + 3], micros, ${MONTH_TTL_SECONDS})
      local held = 0
      if member ~= '' then held = lower(KEYS, b, member, micros, '', false) end
      -- Spend no live slice held (none was taken, or it came back first) is committed now.
      if micros > held then
        add(KEYS[b + 2], micros - held, ${DAY_TTL_SECONDS})
        add(KEYS[b + 4], micros - held, ${MONTH_TTL_SECONDS})
      end
    end
  end
  k, a = k + 1 + 5 * scopes, a + 5
end`;

/**
 * The token bucket as the next request will find it, moving nothing: as a read-only
 * script a replica may answer, for a key this isolate holds no slice of. KEYS[1]: the
 * bucket; ARGV[1]: its limit. Returns {1, tokens (floored), ms until full}.
 */
export const TOKEN_PEEK: LuaScript = {
  source: `#!lua flags=no-writes,allow-key-locking
local limit = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]) or limit, tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - at) * limit / ${TOKEN_WINDOW_MS})
return {1, math.floor(tokens), math.ceil(math.max(0, limit - tokens) * ${TOKEN_WINDOW_MS} / limit)}`,
  sha1: "8c68c635a62f2f89e7456190f7fbba65489e80df",
  readOnly: true,
};
