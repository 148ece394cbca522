/**
 * The after-response batch's one Lua call: the breakers' reports, the metrics'
 * increments and the requests' spend in a single EVAL, so a batch costs one command
 * for all three (Upstash bills per command). Each concern keeps its own script
 * (breaker-script.ts, metrics.ts, allowance-script.ts); this wraps them as functions
 * over their own slice of KEYS and ARGV.
 */
import { METRICS_SCRIPT } from "../observability/metrics.ts";
import { BREAKER_SCRIPT } from "../reliability/breaker-script.ts";
import { SETTLE_SPEND } from "../security/allowance-script.ts";
import type { LuaScript } from "../storage/scripts.ts";

/**
 * ARGV[1..5]: how many keys the breakers take, how many arguments they take, how many
 * keys the metrics take, how many arguments they take, how many keys the spend takes;
 * then the breakers' arguments, the metrics', the spend's. KEYS: the breakers', the
 * metrics', the spend's. Returns the breakers' transitions.
 */
export const BATCH_SCRIPT: LuaScript = {
  source: `#!lua flags=allow-key-locking
local function breakers(KEYS, ARGV) ${BREAKER_SCRIPT}
end
local function metrics(KEYS, ARGV) ${METRICS_SCRIPT}
end
local function spend(KEYS, ARGV) ${SETTLE_SPEND}
end
local function slice(list, from, count)
  local out = {}
  for i = from, from + count - 1 do out[#out + 1] = list[i] end
  return out
end
local breakerKeys, breakerArgs, metricKeys, metricArgs, spendKeys = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local changed = {}
if breakerArgs > 0 then changed = breakers(slice(KEYS, 1, breakerKeys), slice(ARGV, 6, breakerArgs)) end
if metricArgs > 0 then metrics(slice(KEYS, breakerKeys + 1, metricKeys), slice(ARGV, 6 + breakerArgs, metricArgs)) end
local spendArgs = #ARGV - 5 - breakerArgs - metricArgs
if spendArgs > 0 then spend(slice(KEYS, breakerKeys + metricKeys + 1, spendKeys), slice(ARGV, 6 + breakerArgs + metricArgs, spendArgs)) end
return changed`,
  sha1: "81e670e7f845827e75b54f24e4970a1e0b556d0b",
};

type Call = { keys: string[]; args: string[] };

/** One call for whichever of the three has work; `undefined` when none has. */
export function batchCall(breakers: Call | undefined, increments: Call | undefined, spend?: Call): Call | undefined {
  if (breakers === undefined && increments === undefined && spend === undefined) return undefined;
  const [b, m, s] = [breakers, increments, spend].map((call) => call ?? { keys: [], args: [] }) as [Call, Call, Call];
  return {
    keys: [...b.keys, ...m.keys, ...s.keys],
    args: [String(b.keys.length), String(b.args.length), String(m.keys.length), String(m.args.length), String(s.keys.length), ...b.args, ...m.args, ...s.args],
  };
}
