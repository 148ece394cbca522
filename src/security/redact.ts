/** Keeps secrets and a provider's internals out of anything a client, a log or an audit row may see. */

/**
 * Key shapes (OpenAI/OpenRouter `sk-…`, Groq `gsk_…`, Stripe `sk_live_…`, AWS `AKIA…`, our
 * `tg_…`), bearer tokens, masked key tails, long opaque tokens.
 */
const KEY_PATTERN =
  /\b(?:sk-[A-Za-z0-9_-]{4,}|gsk_[A-Za-z0-9]{4,}|[spr]k_(?:live|test)_[A-Za-z0-9]{4,}|(?:AKIA|ASIA)[0-9A-Z]{12,}|tg_[a-z]+_[A-Za-z0-9_-]{4,}|Bearer\s+\S+|[A-Za-z0-9+/_-]{32,}={0,2})|[A-Za-z0-9_-]*\*{3,}[A-Za-z0-9_-]*/gi;

/**
 * Pieces of a secret that are redacted wherever they stand: its start or its end from
 * this long (a provider that echoes a truncated or a masked key), anything in it from
 * `PIECE` (shorter pieces inside a secret can be ordinary words).
 */
const END = 8;
const PIECE = 12;

/** File paths as tracebacks print them: `/srv/app/x.py`, `C:\app\x.py`, `file:///…`. */
const PATH_PATTERN = /(?:file:\/\/)?(?:[A-Za-z]:\\|\/)(?:[\w.@-]+[\\/])+[\w.@-]*/g;

/** Replaces every configured secret, of any length, and anything shaped like a key with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  const known = secrets.filter((secret): secret is string => secret !== undefined && secret !== "").sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join("[redacted]");
  for (const secret of known) if (secret.length >= END) out = redactFragments(out, secret);
  return out.replace(KEY_PATTERN, "[redacted]");
}

/** Replaces every piece of `secret` the text holds that is its start or its end (`END` characters or more), or any `PIECE` of it. */
function redactFragments(text: string, secret: string): string {
  let out = text;
  for (let i = 0; i + END <= secret.length; i++) {
    const seed = secret.slice(i, i + END);
    for (let at = out.indexOf(seed); at !== -1; at = out.indexOf(seed, at + 1)) {
      let [start, end] = [at, at + END];
      while (end < out.length && secret.includes(out.slice(start, end + 1))) end += 1;
      while (start > 0 && secret.includes(out.slice(start - 1, end))) start -= 1;
      const piece = out.slice(start, end);
      if (piece.length < PIECE && !secret.startsWith(piece) && !secret.endsWith(piece)) continue;
      out = `${out.slice(0, start)}[redacted]${out.slice(end)}`;
      at = start;
    }
  }
  return out;
}

/**
 * A provider's error message made fit for the client: its first line only (a
 * traceback stays behind), every secret and key-shaped string redacted, file paths
 * dropped, at most 300 characters.
 * @example sanitizeProviderMessage("bad key 'Bearer k1' at /srv/app/auth.py:12", ["k1"]) // "bad key '[redacted]' at [path]:12"
 */
export function sanitizeProviderMessage(text: string, secrets: readonly (string | undefined)[]): string {
  const firstLine = text.split(/\r?\n/).find((line) => line.trim() !== "" && !/^traceback\b/i.test(line.trim())) ?? "";
  const redacted = redactSecrets(firstLine, secrets).replace(PATH_PATTERN, "[path]");
  return redacted.replace(/\s+/g, " ").trim().slice(0, 300);
}

/** A URL fit to show: any `user:password@` part and query string removed. */
export function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
