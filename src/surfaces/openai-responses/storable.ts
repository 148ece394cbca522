/** What Postgres can keep of a stored response: its text has no NUL, which Postgres's text and jsonb refuse outright. */
import { ApiError } from "../../http/errors.ts";

/**
 * True when `id` could name a stored response: ids are printable, so a NUL or another
 * control character names none, and is answered "not found" before any query (Postgres
 * would refuse the NUL with an error, a 500).
 */
export function couldNameStored(id: string): boolean {
  return !/[\u0000-\u001f\u007f]/.test(id);
}

/**
 * Refuses, with a 400 naming the field, a request to be stored that holds a NUL in any
 * string or key: the answer would promise an id that the database refused to keep.
 * A request with `store: false` keeps its NULs; the providers take them.
 */
export function refuseUnstorable(body: Record<string, unknown>): void {
  const where = nulAt(body, []);
  if (where === undefined) return;
  throw new ApiError(400, `'${where}' holds a NUL character, which a stored response cannot keep: remove it, or send store: false`, {
    param: where,
    code: "invalid_value",
  });
}

/**
 * True when JSON text holds a NUL: `\u0000` after an even number of backslashes (after
 * an odd number it is the text `\u0000`, which Postgres keeps). What the model wrote is
 * checked this way, on the text about to be stored.
 */
export function jsonHoldsNul(json: string): boolean {
  return /(?:^|[^\\])(?:\\\\)*\\u0000/.test(json);
}

/** The path of the first string (or key) holding a NUL, as `input[0].content[0].text`; `undefined` if none. */
function nulAt(value: unknown, path: readonly (string | number)[]): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? pathText(path) : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const here = [...path, Array.isArray(value) ? Number(key) : key];
    if (key.includes("\u0000")) return pathText(here);
    const found = nulAt(item, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

function pathText(path: readonly (string | number)[]): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}
