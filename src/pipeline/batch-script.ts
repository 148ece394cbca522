/**
 * The after-response batch's one Lua call: the breakers' reports and the metrics'
 * increments in a single EVAL, so a batch costs one command for both (Upstash bills
 * per command). Each concern keeps its own script (breaker-script.ts, metrics.ts);
 * this wraps them as functions over their own slice of KEYS and ARGV.
 */
import { METRICS_SCRIPT } from "../observability/metrics.ts";
import { BREAKER_SCRIPT } from "../reliability/breaker-script.ts";
import type { LuaScript } from "../storage/scripts.ts";

/**
 * ARGV[1..3]: how many keys the breakers take, how many arguments they take, how many
 * keys the metrics take; then the breakers' arguments, then the metrics'. KEYS: the
 * breakers', then the metrics'. Returns the breakers' transitions.
 */
export const BATCH_SCRIPT: LuaScript = {
  source: `#!lua flags=allow-key-locking
local function breakers(KEYS, ARGV) ${BREAKER_SCRIPT}
end
local function metrics(KEYS, ARGV) ${METRICS_SCRIPT}
end
local function slice(list, from, count)
  local out = {}
  for i = from, from + count - 1 do out[#out + 1] = list[i] end
  return out
end
local breakerKeys, breakerArgs, metricKeys = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local changed = {}
if breakerArgs > 0 then changed = breakers(slice(KEYS, 1, breakerKeys), slice(ARGV, 4, breakerArgs)) end
local metricArgs = #ARGV - 3 - breakerArgs
if metricArgs > 0 then metrics(slice(KEYS, breakerKeys + 1, metricKeys), slice(ARGV, 4 + breakerArgs, metricArgs)) end
return changed`,
  sha1: "9e030424471605d3ca0ebde35428398815a68956",
};

type Call = { keys: string[]; args: string[] };

/** One call for whichever of the two has work; `undefined` when neither has. */
export function batchCall(breakers: Call | undefined, increments: Call | undefined): Call | undefined {
  if (breakers === undefined && increments === undefined) return undefined;
  const b = breakers ?? { keys: [], args: [] };
  const m = increments ?? { keys: [], args: [] };
  return { keys: [...b.keys, ...m.keys], args: [String(b.keys.length), String(b.args.length), String(m.keys.length), ...b.args, ...m.args] };
}
