/**
 * What this isolate has seen of Redis and Postgres lately: the basis of "degraded".
 * One `StoreHealth` per isolate's services; every store call goes through its `tracked`.
 */

export type Store = "redis" | "postgres";

/** Runs a call to a store, noting how it went; the caller gets the error and its failure policy decides. */
export type Tracked = <T>(store: Store, call: () => Promise<T>) => Promise<T>;

export type StoreHealth = {
  tracked: Tracked;
  /** True when the last call to `store` failed, recently. */
  seemsDown(store: Store): boolean;
};

/** A failure counts for this long unless a success follows it. */
const MEMORY_MS = 30_000;

/**
 * Only an outage marks a store down: a store that answered with an error is up.
 * @example const stores = createStoreHealth(); await stores.tracked("redis", () => redis.get("k"));
 */
export function createStoreHealth(clock: () => number = Date.now): StoreHealth {
  const lastFailure: Record<Store, number> = { redis: 0, postgres: 0 };
  const lastSuccess: Record<Store, number> = { redis: 0, postgres: 0 };
  return {
    async tracked(store, call) {
      try {
        const result = await call();
        lastSuccess[store] = clock();
        return result;
      } catch (error) {
        if (isOutage(error)) lastFailure[store] = clock();
        else lastSuccess[store] = clock();
        throw error;
      }
    },
    seemsDown: (store) => lastFailure[store] > lastSuccess[store] && clock() - lastFailure[store] < MEMORY_MS,
  };
}

const REDIS_REPLY = /^(ERR|WRONGTYPE|NOSCRIPT|EXECABORT|NOPERM|BUSYKEY|NOTBUSY)\b/;

/** SQLSTATE classes that mean the server is unreachable or unwell, not that the statement was wrong. */
const OUTAGE_CLASSES = new Set(["08", "53", "57", "58"]);

/**
 * SQLSTATEs that mean the database is not in the router's shape: a relation, schema,
 * function or column of its own statements is missing (not migrated, or a session's
 * search_path was changed under it). No client input can cause one, so they count as
 * an outage: records stay queued, and routes answer 503 `database_schema_missing`.
 */
const SCHEMA_MISSING = new Set(["42P01", "3F000", "42883", "42703"]);

/** True when Postgres answered that the router's own schema is not there (SCHEMA_MISSING). */
export function isSchemaMissing(error: unknown): boolean {
  const { name, code } = (typeof error === "object" && error !== null ? error : {}) as { name?: unknown; code?: unknown };
  return name === "NeonDbError" && typeof code === "string" && SCHEMA_MISSING.has(code);
}

/**
 * True for a connection failure or a timeout; false when the store answered and refused
 * the command (a Postgres error with its SQLSTATE, a Redis error reply).
 */
export function isOutage(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return true;
  const { name, code } = error as { name?: unknown; code?: unknown };
  // Redis's own error replies (ERR, WRONGTYPE, NOSCRIPT...) mean it answered; anything else is the endpoint failing.
  if (name === "UpstashError") return !REDIS_REPLY.test(String((error as { message?: unknown }).message));
  if (name === "NeonDbError" && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return OUTAGE_CLASSES.has(code.slice(0, 2)) || SCHEMA_MISSING.has(code);
  return true;
}
