/**
 * One request's calls to Redis before its provider call, held and sent as one pipeline:
 * a key's first request in an isolate takes its slice of requests (in the key
 * middleware), its slice of tokens and money (in the engine's gate) and writes the key's
 * directory entry, and all three reach the primary in one round trip, not three. Calls
 * made after `send()` go straight to Redis, as do a warm key's (it makes none) and every
 * refill (made in the background, on the shared client).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { ScriptRunner } from "./scripts.ts";

export type Joint = ScriptRunner &
  Pick<Redis, "set"> & {
    /** Sends what is held, once; the request's gate calls it when its last call is in, the key middleware when the route ends. */
    send(): void;
  };

type Held = { add: (pipeline: ReturnType<Redis["pipeline"]>) => void; resolve: (value: unknown) => void; reject: (error: unknown) => void };

export function createJoint(redis: Redis): Joint {
  let held: Held[] | undefined = [];
  /** Held until `send`, or sent at once after it. */
  const call = <T>(add: Held["add"], direct: () => Promise<T>): Promise<T> => {
    if (held === undefined) return direct();
    const waiting = held;
    return new Promise<T>((resolve, reject) => waiting.push({ add, resolve: resolve as (value: unknown) => void, reject }));
  };
  return {
    evalsha: ((sha, keys, args) =>
      call(
        (p) => p.evalsha(sha, keys, args),
        () => redis.evalsha(sha, keys, args),
      )) as Redis["evalsha"],
    eval: ((script, keys, args) =>
      call(
        (p) => p.eval(script, keys, args),
        () => redis.eval(script, keys, args),
      )) as Redis["eval"],
    evalshaRo: ((sha, keys, args) =>
      call(
        (p) => p.evalshaRo(sha, keys, args),
        () => redis.evalshaRo(sha, keys, args),
      )) as Redis["evalshaRo"],
    evalRo: ((script, keys, args) =>
      call(
        (p) => p.evalRo(script, keys, args),
        () => redis.evalRo(script, keys, args),
      )) as Redis["evalRo"],
    set: ((key, value, options) =>
      call(
        (p) => p.set(key, value, options),
        () => redis.set(key, value, options),
      )) as Redis["set"],
    send() {
      const sending = held;
      held = undefined;
      if (sending === undefined || sending.length === 0) return;
      const pipeline = redis.pipeline();
      for (const each of sending) each.add(pipeline);
      // Each call gets its own answer or error (a NOSCRIPT is one script's, sent again by its text: scripts.ts).
      pipeline.exec({ keepErrors: true }).then(
        (answers) => {
          for (const [i, each] of sending.entries()) {
            const answer = answers[i];
            if (answer === undefined || answer.error !== undefined) each.reject(new Error(answer?.error ?? "no answer in the pipeline"));
            else each.resolve(answer.result);
          }
        },
        (error: unknown) => {
          for (const each of sending) each.reject(error);
        },
      );
    },
  };
}
