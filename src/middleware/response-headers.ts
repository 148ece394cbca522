/**
 * Headers set on an answer after its handler made it. Hono's `c.header` copies the whole
 * Response once it is finalized, on every call (so an immutable one, from `fetch`, can
 * take them); every answer the router builds has headers that may be changed, so they
 * are set on it in place, and copied only when they cannot be.
 */
import type { Context } from "hono";

export function setResponseHeaders(c: Context, headers: Record<string, string>): void {
  const entries = Object.entries(headers);
  if (entries.length === 0) return;
  if (c.finalized) {
    try {
      for (const [name, value] of entries) c.res.headers.set(name, value);
      return;
    } catch {
      // Immutable headers: Hono's copy below.
    }
  }
  for (const [name, value] of entries) c.header(name, value);
}
