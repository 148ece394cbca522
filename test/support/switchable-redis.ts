/**
 * A script runner over the real Redis (through the Upstash REST endpoint) that counts the
 * scripts sent and can be taken down, or paused: a paused call waits, unanswered, until
 * `resume()`, so a test can tell work that waits on Redis from work that does not.
 */
import type { Redis } from "@upstash/redis";
import type { ScriptRunner } from "../../src/storage/scripts.ts";

export function switchableRedis(upstash: Redis) {
  let gate: Promise<void> | undefined;
  let open: () => void = () => {};
  const state = {
    calls: 0,
    down: false,
    pause(): void {
      gate ??= new Promise<void>((resolve) => (open = resolve));
    },
    resume(): void {
      open();
      gate = undefined;
    },
  };
  const call =
    <K extends keyof ScriptRunner>(name: K) =>
    async (...args: Parameters<ScriptRunner[K]>) => {
      state.calls += 1;
      if (gate !== undefined) await gate;
      if (state.down) throw new Error("fetch failed");
      return (upstash[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  const redis = { evalsha: call("evalsha"), eval: call("eval"), evalshaRo: call("evalshaRo"), evalRo: call("evalRo") } as unknown as ScriptRunner;
  return { redis, state };
}
