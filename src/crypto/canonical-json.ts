/** Canonical JSON: object keys sorted at every depth, no whitespace. Equal values give equal text. */

/**
 * The text JSON.stringify would give for a copy of `value` with its keys sorted at
 * every depth, written in one pass: no sorted copy is built (a copy cost a property
 * definition per key, on every request's record). A `__proto__` key stays data.
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? "null";
}

/** The value's text, or `undefined` where JSON.stringify leaves a property out (undefined, functions, symbols). */
function write(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += `${i === 0 ? "" : ","}${write(value[i]) ?? "null"}`;
    return `${out}]`;
  }
  let out = "{";
  for (const key of sortedKeys(value)) {
    const child = write((value as Record<string, unknown>)[key]);
    if (child !== undefined) out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${child}`;
  }
  return `${out}}`;
}

/** 2^32 - 2: the largest array index. */
const MAX_INDEX = 4_294_967_294;
const isIndex = (key: string): boolean => /^(0|[1-9]\d{0,9})$/.test(key) && Number(key) <= MAX_INDEX;

/**
 * The order the sorted copy had: an object lists array-index keys first, in numeric
 * order (Object.keys already gives them so), then the others as sorted.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  let indices = 0;
  while (indices < keys.length && isIndex(keys[indices]!)) indices += 1;
  return indices === 0 ? keys.sort() : [...keys.slice(0, indices), ...keys.slice(indices).sort()];
}
