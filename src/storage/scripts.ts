/**
 * Lua scripts sent by hash, as upstash/ratelimit-js sends its own: `EVALSHA` with the
 * pinned SHA-1 of the script's text, and `EVAL` with the text only when Redis answers
 * `NOSCRIPT` (a fresh or flushed Redis). A test checks each pinned hash against
 * `SCRIPT LOAD`, so a script edited without its hash fails before it ships.
 */
import type { Redis } from "@upstash/redis/cloudflare";

export type LuaScript = { readonly source: string; readonly sha1: string };

/** Whether an error is Redis saying it has no script of that hash. */
export const isNoScript = (error: unknown): boolean => String((error as { message?: unknown })?.message ?? error).includes("NOSCRIPT");

/** Runs `script` by its hash, and by its text only when Redis does not know the hash. */
export async function runScript<T>(redis: Pick<Redis, "evalsha" | "eval">, script: LuaScript, keys: string[], args: string[]): Promise<T> {
  try {
    return (await redis.evalsha(script.sha1, keys, args)) as T;
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return (await redis.eval(script.source, keys, args)) as T;
  }
}
