/** Text as a response header can carry it: printable ASCII, bounded. */

/**
 * `text` with each character a header cannot carry (a NUL, a line break, anything beyond
 * ASCII: a client's field name, a custom model id) read as "?", and at most `max` long.
 * @example headerSafe("naïve\u0000") // "na?ve?"
 */
export function headerSafe(text: string, max = 512): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}
