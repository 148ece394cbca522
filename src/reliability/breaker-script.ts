/**
 * The one place breaker state changes: a Lua script that takes a batch of call
 * outcomes and moves every circuit they touch, atomically, in the Redis all isolates
 * share. A circuit is a field of one hash: absent = closed; a time in ms = open until
 * then, half-open after it (one trial call per isolate; its success closes the
 * circuit, its failure opens it again for a fresh cool-down).
 *
 * Whose failure: each report names the caller it came from (its tenant, else its key).
 * A model's or provider's circuit, which every caller shares, opens only on failures
 * that are not one caller's alone: from two callers or more in the window, or a failed
 * probe (the router's own canary). A caller whose requests fail on two models or more
 * that other callers are served by trips a circuit of its own (`caller:<owner>`): its
 * requests fail fast, and nobody else's routing moves. A report with no caller (a
 * deployment without keys) counts as anyone's, as before callers were told apart.
 * A tenant's own credential has a circuit of its own (`credential:<owner>:<provider>`),
 * which only that tenant's requests report to: it opens on that one caller's failures.
 */

/**
 * KEYS[1]: the state hash (target → open-until ms); KEYS[2]: the latency EWMA hash
 * (target → ms); KEYS[3]: the transition counter hash ("target|open" → count); then
 * per report two keys: its target's counter hash (consecutive failures, window, the
 * callers that failed and when, the last success and whose), and its caller's counter
 * hash (its failure streak, the targets it failed on and when): every key the script
 * touches is in KEYS, as `allow-key-locking` needs.
 * ARGV[1..7]: now, failures to open, error-rate percent, window ms, minimum calls in
 * the window, cool-down ms, EWMA weight of a new sample. Then quads: target, outcome
 * ("ok", "fail", "open": a failed probe, "close": a passed probe), latency ms (-1:
 * none), caller ('' for none). Returns the transitions made, flat: target, "open" or
 * "closed", open-until.
 */
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
-- Fields of a counter hash named prefix..something whose time is within the window.
local function recent(hash, prefix)
  local fields, count = redis.call('HGETALL', hash), 0
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, #prefix) == prefix and now - tonumber(fields[i + 1]) <= window then count = count + 1 end
  end
  return count
end
for i = 8, #ARGV, 4 do
  local target, outcome, ms, owner = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local j = (i - 8) / 4
  local counts, mine = KEYS[4 + 2 * j], KEYS[5 + 2 * j]
  local opened = tonumber(redis.call('HGET', states, target) or '-1')
  local started = tonumber(redis.call('HGET', counts, 'w') or '-1')
  if started < 0 or now - started > window then redis.call('HSET', counts, 'w', now, 'n', 0, 'f', 0) end
  local calls = redis.call('HINCRBY', counts, 'n', 1)
  if outcome == 'ok' or outcome == 'close' then
    redis.call('HSET', counts, 'c', 0, 'ok', now, 'by', owner)
    if ms >= 0 then
      local old = tonumber(redis.call('HGET', latency, target) or '-1')
      redis.call('HSET', latency, target, old < 0 and ms or math.floor(old + alpha * (ms - old) + 0.5))
    end
    -- A late success while the cool-down runs proves little; the trial after it, or a probe, closes.
    if opened >= 0 and (outcome == 'close' or opened <= now) then move(target, 'closed', 0) end
    if owner ~= '' then
      redis.call('HSET', mine, 'c', 0)
      local own = tonumber(redis.call('HGET', states, 'caller:' .. owner) or '-1')
      if own >= 0 and own <= now then move('caller:' .. owner, 'closed', 0) end
    end
  else
    local failures = redis.call('HINCRBY', counts, 'f', 1)
    local streak = redis.call('HINCRBY', counts, 'c', 1)
    local callers = 2
    if owner ~= '' then
      redis.call('HSET', counts, 'o:' .. owner, now)
      callers = recent(counts, 'o:')
      -- A tenant's own credential is that tenant's alone: its failures are enough to open its circuit.
      if string.sub(target, 1, 11) == 'credential:' then callers = 2 end
      -- Others are served by this target while this caller fails on it: the failure is the caller's own.
      local served, by = tonumber(redis.call('HGET', counts, 'ok') or '-1'), redis.call('HGET', counts, 'by')
      if served >= 0 and now - served <= window and by and by ~= '' and by ~= owner then
        redis.call('HSET', mine, 't:' .. target, now)
        local own = redis.call('HINCRBY', mine, 'c', 1)
        local ownOpened = tonumber(redis.call('HGET', states, 'caller:' .. owner) or '-1')
        if own >= need and recent(mine, 't:') >= 2 and (ownOpened < 0 or ownOpened <= now) then move('caller:' .. owner, 'open', now + cooldown) end
        redis.call('PEXPIRE', mine, window * 4)
      end
    end
    local trips = outcome == 'open' or (callers >= 2 and ((need > 0 and streak >= need) or (calls >= minimum and failures * 100 >= rate * calls)))
    if (opened < 0 and trips) or (opened >= 0 and opened <= now and (outcome == 'open' or callers >= 2)) then move(target, 'open', now + cooldown) end
  end
  redis.call('PEXPIRE', counts, window * 4)
end
return changed`;
