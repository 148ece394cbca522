/**
 * The isolate's bounded maps: `tiny-lru`, an exact LRU (a linked list over an object with
 * no prototype) that reads `Date.now()` on every expiry check. It replaces `lru-cache`,
 * about 4 KiB gzipped larger, which the bundle budget could no longer carry, and whose
 * cached clock stood still in workerd unless told otherwise (a revoked key served for ever
 * by an isolate that had seen it).
 */
import { LRU } from "tiny-lru";

/**
 * At most `max` entries, the least recently used dropped first, each gone `ttlMs` after it was set.
 * @example const seen = lru<Lookup>(10_000, 15_000); seen.set(hash, found);
 */
export function lru<V>(max: number, ttlMs = 0): LRU<V> {
  return new LRU<V>(max, ttlMs);
}
