/**
 * The one place breaker state changes: a Lua script that takes a batch of call
 * outcomes and moves every circuit they touch, atomically, in the Redis all isolates
 * share. A circuit is a field of one hash: absent = closed; a time in ms = open until
 * then, half-open after it (one trial call per isolate; its success closes the
 * circuit, its failure opens it again for a fresh cool-down).
 */

/**
 * KEYS[1]: the state hash (target → open-until ms); KEYS[2]: the latency EWMA hash
 * (target → ms); KEYS[3]: the transition counter hash ("target|open" → count);
 * KEYS[4…]: each triple's target's counter hash (consecutive failures, window), in the
 * triples' order: every key the script touches is in KEYS, as `allow-key-locking` needs.
 * ARGV[1..7]: now, failures to open, error-rate percent, window ms, minimum calls in
 * the window, cool-down ms, EWMA weight of a new sample. Then triples: target,
 * outcome ("ok", "fail", "suspect": a failure counted only when the circuit has seen no
 * success for SUSPECT_MS, "open": a failed probe, "close": a passed probe), latency ms
 * (-1: none). Returns the transitions made, flat: target, "open" or "closed", open-until.
 */
/** How recent a success must be for a suspect failure to be the request's own: an outage opens the circuit this long after it began. */
const SUSPECT_MS = 5_000;

export const BREAKER_SCRIPT = `
local now, need, rate, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local minimum, cooldown, alpha = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local states, latency, transitions = KEYS[1], KEYS[2], KEYS[3]
local changed = {}
local function move(target, state, until_ms)
  if state == 'open' then redis.call('HSET', states, target, until_ms) else redis.call('HDEL', states, target) end
  redis.call('HINCRBY', transitions, target .. '|' .. state, 1)
  table.insert(changed, target); table.insert(changed, state); table.insert(changed, until_ms)
end
for i = 8, #ARGV, 3 do
  local target, outcome, ms = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local counts = KEYS[4 + (i - 8) / 3]
  local opened = tonumber(redis.call('HGET', states, target) or '-1')
  local started = tonumber(redis.call('HGET', counts, 'w') or '-1')
  if started < 0 or now - started > window then redis.call('HSET', counts, 'w', now, 'n', 0, 'f', 0) end
  if outcome == 'suspect' then
    local served = tonumber(redis.call('HGET', counts, 'ok') or '-1')
    if served >= 0 and now - served < ${SUSPECT_MS} then outcome = 'ignored' else outcome = 'fail' end
  end
  local calls = outcome == 'ignored' and 0 or redis.call('HINCRBY', counts, 'n', 1)
  if outcome == 'ignored' then
    -- a suspect failure while others succeed: the request's own, nothing to learn of the circuit
  elseif outcome == 'ok' or outcome == 'close' then
    redis.call('HSET', counts, 'c', 0, 'ok', now)
    if ms >= 0 then
      local old = tonumber(redis.call('HGET', latency, target) or '-1')
      redis.call('HSET', latency, target, old < 0 and ms or math.floor(old + alpha * (ms - old) + 0.5))
    end
    -- A late success while the cool-down runs proves little; the trial after it, or a probe, closes.
    if opened >= 0 and (outcome == 'close' or opened <= now) then move(target, 'closed', 0) end
  else
    local failures = redis.call('HINCRBY', counts, 'f', 1)
    local streak = redis.call('HINCRBY', counts, 'c', 1)
    local trips = outcome == 'open' or (need > 0 and streak >= need) or (calls >= minimum and failures * 100 >= rate * calls)
    if (opened < 0 and trips) or (opened >= 0 and opened <= now) then move(target, 'open', now + cooldown) end
  end
  redis.call('PEXPIRE', counts, window * 4)
end
return changed`;
