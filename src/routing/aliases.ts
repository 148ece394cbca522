/**
 * Model names a client sends that are not the router's own (`auto`, `tier:N`, a
 * registry id): Claude Code names a main model and a small, fast one of Anthropic's,
 * and any name may be mapped to `auto` (with a highest tier), to a tier or to a
 * registry entry. The first pattern that matches wins: MODEL_ALIASES's, then these.
 */
import * as z from "zod";

export type AliasTarget = { model: string; maxTier: number | null };
export type Alias = { pattern: string; target: AliasTarget };

const Target = z.union([z.string().min(1), z.strictObject({ model: z.string().min(1), max_tier: z.number().int().min(1).max(5).optional() })]);
/** MODEL_ALIASES: `{"<name, * for any run of characters>": "auto" | "tier:N" | "<registry id>" | {"model", "max_tier"}}`. */
export const AliasesSchema = z.record(z.string().min(1), Target);

/** Claude Code's small, fast model (its background work: titles, summaries) goes no higher than tier 2; any other Claude name is routed. */
export const DEFAULT_ALIASES: readonly Alias[] = [
  { pattern: "claude-*haiku*", target: { model: "auto", maxTier: 2 } },
  { pattern: "claude-*", target: { model: "auto", maxTier: null } },
];

export function parseAliases(value: z.infer<typeof AliasesSchema> | undefined): Alias[] {
  const configured = Object.entries(value ?? {}).map(([pattern, target]) => ({
    pattern,
    target: typeof target === "string" ? { model: target, maxTier: null } : { model: target.model, maxTier: target.max_tier ?? null },
  }));
  return [...configured, ...DEFAULT_ALIASES];
}

/** The alias a name matches, if any (case-insensitive, `*` any run of characters). */
export function aliasFor(name: string, aliases: readonly Alias[]): Alias | undefined {
  return aliases.find((alias) => globMatches(alias.pattern.toLowerCase(), name.toLowerCase()));
}

function globMatches(pattern: string, text: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === text;
  if (!text.startsWith(parts[0]!) || !text.endsWith(parts.at(-1)!)) return false;
  let at = parts[0]!.length;
  const end = text.length - parts.at(-1)!.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return at <= end;
}
