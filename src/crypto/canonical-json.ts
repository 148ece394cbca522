/** Canonical JSON: object keys sorted at every depth, no whitespace. Equal values give equal text. */

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== undefined) Object.defineProperty(sorted, key, { value: sortKeys(child), enumerable: true });
  }
  return sorted;
}
