/** How the isolate's LRU caches with a TTL read the time. */

/**
 * For `ttlResolution`: lru-cache reads the time afresh on every check, not once per millisecond: it keeps
 * the time it read until a timer clears it, and workerd drops a finished request's
 * timers, so the time it kept would stand still and no entry would ever expire (a
 * revoked key served for ever by an isolate that had seen it).
 */
export const FRESH_NOW = 0;
