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
 * Only an outage marks the store down: a store that answered with an error is up.
 */
export async function tracked<T>(store: Store, call: () => Promise<T>): Promise<T> {
  try {
    const result = await call();
    noteSuccess(store);
    return result;
  } catch (error) {
    if (isOutage(error)) noteFailure(store);
    else noteSuccess(store);
    throw error;
  }
}

const REDIS_REPLY = /^(ERR|WRONGTYPE|NOSCRIPT|EXECABORT|NOPERM|BUSYKEY|NOTBUSY)\b/;

/** SQLSTATE classes that mean the server is unreachable or unwell, not that the statement was wrong. */
const OUTAGE_CLASSES = new Set(["08", "53", "57", "58"]);

/**
 * True for a connection failure or a timeout; false when the store answered and refused
 * the command (a Postgres error with its SQLSTATE, a Redis error reply).
 */
export function isOutage(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return true;
  const { name, code } = error as { name?: unknown; code?: unknown };
  // Redis's own error replies (ERR, WRONGTYPE, NOSCRIPT...) mean it answered; anything else is the endpoint failing.
  if (name === "UpstashError") return !REDIS_REPLY.test(String((error as { message?: unknown }).message));
  if (name === "NeonDbError" && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return OUTAGE_CLASSES.has(code.slice(0, 2));
  return true;
}
