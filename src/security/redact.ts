/** Keeps secrets out of anything a client, a log or an audit row may see. */

/** Provider key shapes (OpenAI/OpenRouter `sk-…`, Groq `gsk_…`) and bearer tokens. */
const KEY_PATTERN = /\b(?:sk-[A-Za-z0-9_-]{8,}|gsk_[A-Za-z0-9]{8,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})/g;

/** Replaces every known secret and anything shaped like a key with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  return out.replace(KEY_PATTERN, "[redacted]");
}

/** A URL fit to show: any `user:password@` part and query string removed. */
export function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
