/** What this isolate has seen of Redis and Postgres lately: the basis of "degraded". */

export type Store = "redis" | "postgres";

/** A failure counts for this long unless a success follows it. */
const MEMORY_MS = 30_000;
const lastFailure: Record<Store, number> = { redis: 0, postgres: 0 };
const lastSuccess: Record<Store, number> = { redis: 0, postgres: 0 };

export function noteFailure(store: Store): void {
  lastFailure[store] = Date.now();
}

export function noteSuccess(store: Store): void {
  lastSuccess[store] = Date.now();
}

/** True when the last call to `store` failed, recently. */
export function seemsDown(store: Store, now = Date.now()): boolean {
  return lastFailure[store] > lastSuccess[store] && now - lastFailure[store] < MEMORY_MS;
}

/**
 * Runs a call to a store, noting how it went. Failure policy is the caller's:
 * it gets the error and decides (skip the cache, write the audit elsewhere, ...).
 */
export async function tracked<T>(store: Store, call: () => Promise<T>): Promise<T> {
  try {
    const result = await call();
    noteSuccess(store);
    return result;
  } catch (error) {
    noteFailure(store);
    throw error;
  }
}
