/** Keeps secrets and a provider's internals out of anything a client, a log or an audit row may see. */

/** Key shapes (OpenAI/OpenRouter `sk-…`, Groq `gsk_…`, our `tg_…`), bearer tokens, masked key tails, long opaque tokens. */
const KEY_PATTERN =
  /\b(?:sk-[A-Za-z0-9_-]{4,}|gsk_[A-Za-z0-9]{4,}|tg_[a-z]+_[A-Za-z0-9_-]{4,}|Bearer\s+\S+|[A-Za-z0-9+/_-]{32,}={0,2})|[A-Za-z0-9_-]*\*{3,}[A-Za-z0-9_-]*/gi;
/** File paths as tracebacks print them: `/srv/app/x.py`, `C:\app\x.py`, `file:///…`. */
const PATH_PATTERN = /(?:file:\/\/)?(?:[A-Za-z]:\\|\/)(?:[\w.@-]+[\\/])+[\w.@-]*/g;

/** Replaces every configured secret, of any length, and anything shaped like a key with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  const known = secrets.filter((secret): secret is string => secret !== undefined && secret !== "").sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join("[redacted]");
  return out.replace(KEY_PATTERN, "[redacted]");
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
