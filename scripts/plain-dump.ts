/**
 * A plain-SQL dump as any PostgreSQL from 15 up takes it. PGlite's pg_dump is built for
 * its own Postgres (18), and sets what older servers do not know: `SET transaction_timeout`
 * (new in 17) stops a restore into 15 or 16 at its first line. Each such setting is only
 * the dump's own session default (0: no timeout), so leaving it out changes nothing restored.
 */

/** Session settings a dump may set that PostgreSQL 15 does not know. */
const NEWER_SETTINGS = ["transaction_timeout"];

const NEWER_SETTING_LINE = new RegExp(`^SET (?:${NEWER_SETTINGS.join("|")}) = [^;\\n]*;\\n`, "gm");

/**
 * The dump without what PostgreSQL 15 and 16 refuse.
 * @example portableDump("SET transaction_timeout = 0;\nSET lock_timeout = 0;\n") // "SET lock_timeout = 0;\n"
 */
export function portableDump(text: string): string {
  return text.replace(NEWER_SETTING_LINE, "");
}
