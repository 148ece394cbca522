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

/** A map of texts bounded by their total size: the least recently used dropped first until the rest fit. */
export type TextLru = {
  get(key: string): string | undefined;
  /** Keeps `text` unless it alone is larger than the bound (then any older text under `key` is dropped). */
  set(key: string, text: string): void;
  delete(key: string): void;
  /** The characters held (a UTF-16 code unit is two bytes in the isolate's heap). */
  readonly chars: number;
};

/**
 * At most `maxChars` characters in all, each text gone `ttlMs` after it was set. tiny-lru
 * bounds entries by count only; the sizes are kept beside it, and a text it dropped as
 * expired leaves the count the next time it is asked for or evicted.
 * @example const copies = textLru(4_000_000, 3_600_000); copies.set(id, JSON.stringify(stored));
 */
export function textLru(maxChars: number, ttlMs = 0): TextLru {
  const texts = new LRU<string>(0, ttlMs);
  const sizes = new Map<string, number>();
  let chars = 0;
  const drop = (key: string): void => {
    chars -= sizes.get(key) ?? 0;
    sizes.delete(key);
    texts.delete(key);
  };
  return {
    get(key) {
      const text = texts.get(key);
      if (text === undefined && sizes.has(key)) drop(key);
      return text;
    },
    set(key, text) {
      drop(key);
      if (text.length > maxChars) return;
      texts.set(key, text);
      sizes.set(key, text.length);
      chars += text.length;
      while (chars > maxChars && texts.first !== null) drop(String(texts.first.key));
    },
    delete: drop,
    get chars() {
      return chars;
    },
  };
}
