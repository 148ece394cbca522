/**
 * Stored responses with their copies in front (copies.ts), so an agent's next turn
 * waits on no Neon call: a continuation reads this isolate's copy (checked against
 * Redis's, which a DELETE anywhere drops), else Redis's, else Postgres's row, which it
 * copies again. A save writes the copy, in the isolate and in Redis, before the answer
 * says `store: true`, and the Postgres row after the answer (waitUntil).
 *
 * Failure policy, the save: the answer says `store: true` only once a store took it.
 * Redis takes the copy: the row follows after the answer, retried on an outage; if
 * Postgres still refuses it, Redis keeps the copy for the whole retention (so it can be
 * fetched, continued and deleted as a row can) and the failure is logged. Redis does not
 * take it (down, or a copy past MAX_COPY_BYTES): the row is written before the answer,
 * as it always was, and when Postgres refuses it too, the answer says `store: false`. A
 * NUL the model wrote, which Postgres cannot keep, is refused before either store.
 * The read: Redis that cannot say means Postgres answers; Postgres down is the route's 503.
 * The delete: Redis that does not take it is a 503 (a copy must not outlive a DELETE).
 */
import pRetry from "p-retry";
import { isOutage } from "../../storage/availability.ts";
import { COPY_TTL_SECONDS, type ResponseCopies } from "./copies.ts";
import { jsonHoldsNul } from "./storable.ts";
import type { ResponseStore, StoredResponse } from "./store.ts";

export type CachedStoreDeps = {
  /** The caller's scope (store.ts `responseScope`): the copies' keys hold it, as the rows do. */
  scope: string;
  retentionDays: number;
  /** Work to finish after the answer (the Worker's `waitUntil`). */
  defer: (work: Promise<unknown>) => void;
  log: (message: string) => void;
  /** The route's 503, for a delete Redis did not take. */
  unavailable: (cause: unknown) => Error;
};

/**
 * `durable` is the Postgres store of the same scope.
 * @example const store = cachedResponseStore(createResponseStore(sql, scope, 30), copies, { scope, retentionDays: 30, defer, log, unavailable });
 */
export function cachedResponseStore(durable: ResponseStore, copies: ResponseCopies, deps: CachedStoreDeps): ResponseStore {
  const { scope, defer, log } = deps;
  const retentionSeconds = deps.retentionDays * 86_400;

  /** The row, after the answer whose copy Redis took. */
  const saveRow = async (id: string, stored: StoredResponse, key: string): Promise<void> => {
    try {
      await pRetry(() => durable.save(id, stored), { retries: 2, minTimeout: 250, shouldRetry: ({ error }) => isOutage(error) });
    } catch (error) {
      const kept = await copies.extend(key, retentionSeconds);
      log(`response ${id} not saved in Postgres: ${String(error)}; ${kept ? "Redis keeps its copy for the retention" : "only its copy is left, for an hour"}`);
      return;
    }
    // A DELETE that came before the row found none to delete; its tombstone says it came.
    if ((await copies.wasDeleted(key)) === true)
      await durable.remove(id).catch((error: unknown) => log(`response ${id} deleted, its row not: ${String(error)}`));
  };

  return {
    async load(id) {
      const key = copies.keyOf(scope, id);
      const mine = await copies.local(key);
      if (mine !== undefined) {
        // Good while Redis holds the copy: a DELETE in any isolate drops that one.
        if ((await copies.inRedis(key)) === true) return JSON.parse(mine) as StoredResponse;
      } else {
        const theirs = await copies.fromRedis(key);
        if (theirs !== undefined) return JSON.parse(theirs) as StoredResponse;
      }
      const found = await durable.load(id);
      if (found === undefined) {
        copies.forget(key);
        return undefined;
      }
      const { expiresInSeconds, ...stored } = found;
      const ttlSeconds = Math.min(COPY_TTL_SECONDS, expiresInSeconds ?? COPY_TTL_SECONDS);
      if (ttlSeconds > 0) defer(copies.write(key, JSON.stringify(stored), ttlSeconds, { unlessDeleted: true }));
      return stored;
    },
    async save(id, stored) {
      const text = JSON.stringify(stored);
      if (jsonHoldsNul(text)) throw new Error(`response ${id} holds a NUL character, which Postgres cannot keep`);
      const key = copies.keyOf(scope, id);
      if (await copies.write(key, text, COPY_TTL_SECONDS)) {
        defer(saveRow(id, stored, key));
        return;
      }
      try {
        await durable.save(id, stored);
      } catch (error) {
        copies.forget(key);
        throw error;
      }
    },
    async remove(id) {
      const key = copies.keyOf(scope, id);
      let copied: boolean;
      try {
        // First: its tombstone is down before the row goes, so a save still under way sees it (saveRow).
        copied = await copies.remove(key);
      } catch (cause) {
        throw deps.unavailable(cause);
      }
      const rowDeleted = await durable.remove(id);
      return copied || rowDeleted;
    },
  };
}
