/**
 * Lua scripts sent by hash, as upstash/ratelimit-js sends its own: `EVALSHA` with the
 * pinned SHA-1 of the script's text, and `EVAL` with the text only when Redis answers
 * `NOSCRIPT` (a fresh or flushed Redis). A test checks each pinned hash against
 * `SCRIPT LOAD`, so a script edited without its hash fails before it ships.
 */
import type { Redis } from "@upstash/redis/cloudflare";

/**
 * A script, its pinned hash, and whether it only reads: a read-only script declares
 * `#!lua flags=no-writes` and is sent as `EVALSHA_RO`, which Upstash Global lets the
 * nearest read replica answer (a script sent as `EVALSHA` always goes to the primary).
 */
export type LuaScript = { readonly source: string; readonly sha1: string; readonly readOnly?: true };

/** What running scripts needs of a Redis client. */
export type ScriptRunner = Pick<Redis, "evalsha" | "eval" | "evalshaRo" | "evalRo">;

/** Whether an error is Redis saying it has no script of that hash. */
export const isNoScript = (error: unknown): boolean => String((error as { message?: unknown })?.message ?? error).includes("NOSCRIPT");

/** Runs `script` by its hash, and by its text only when Redis does not know the hash. */
export async function runScript<T>(redis: ScriptRunner, script: LuaScript, keys: string[], args: string[]): Promise<T> {
  try {
    return (await (script.readOnly ? redis.evalshaRo(script.sha1, keys, args) : redis.evalsha(script.sha1, keys, args))) as T;
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return (await (script.readOnly ? redis.evalRo(script.source, keys, args) : redis.eval(script.source, keys, args))) as T;
  }
}
