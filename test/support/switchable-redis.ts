/** A script runner over the real Redis (through the Upstash REST endpoint) that counts the scripts sent and can be taken down. */
import type { Redis } from "@upstash/redis";
import type { ScriptRunner } from "../../src/storage/scripts.ts";

export function switchableRedis(upstash: Redis): { redis: ScriptRunner; state: { calls: number; down: boolean } } {
  const state = { calls: 0, down: false };
  const call =
    <K extends keyof ScriptRunner>(name: K) =>
    (...args: Parameters<ScriptRunner[K]>) => {
      state.calls += 1;
      if (state.down) return Promise.reject(new Error("fetch failed"));
      return (upstash[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  const redis = { evalsha: call("evalsha"), eval: call("eval"), evalshaRo: call("evalshaRo"), evalRo: call("evalRo") } as unknown as ScriptRunner;
  return { redis, state };
}
