/**
 * A provider's prompt cache, simulated per model the way providers describe theirs, for the
 * agent bench (`npm run bench -- --agents`): what a prompt reads from the cache, what it
 * writes, and what is billed in full.
 *
 * - Anthropic-family models cache only at explicit breakpoints (`cache_control`): a prefix up
 *   to a breakpoint is written for 5 minutes (or 1 hour with `ttl: "1h"`); a later prompt reads
 *   the longest cached prefix found at a breakpoint or up to 20 blocks before it, and each read
 *   refreshes that entry's TTL. A prefix under 1,024 tokens is not cached.
 * - Other models (OpenAI, DeepSeek, Gemini's implicit cache) cache every prefix they see, free
 *   of charge, and read it back from 1,024 tokens in steps of 128 (OpenAI's rule), for 5 minutes
 *   after its last use; `prompt_cache_key` is part of the cache's identity.
 *
 * The cache is per model: a switch of model finds nothing. A block's identity is its text, not
 * its breakpoint, so moving a breakpoint does not change a cached prefix. Time is passed in, so a
 * replay decides how much of it passes between calls.
 */
import { createHash } from "node:crypto";

export type Ttl = "5m" | "1h";
/** One content block in the order the provider reads a prompt (tools, system, messages). */
export type Block = { text: string; breakpoint?: Ttl | undefined };

/** What the provider reports of a prompt: the cache classes are parts of `promptTokens`. */
export type CacheUsage = { promptTokens: number; cacheReadTokens: number; cacheWriteTokens: number; cacheWrite1hTokens: number };

export type PromptToCache = {
  /** The provider's model id: it decides the caching rule and separates the caches. */
  model: string;
  blocks: readonly Block[];
  /** OpenAI's `prompt_cache_key`, part of the identity of an automatic cache entry. */
  cacheKey?: string | undefined;
  /** Simulated milliseconds: entries expire against this clock. */
  now: number;
};

export const LOOKBACK_BLOCKS = 20;
export const LEAST_CACHED_TOKENS = 1_024;
export const AUTOMATIC_STEP_TOKENS = 128;
const TTL_MS: Record<Ttl, number> = { "5m": 5 * 60_000, "1h": 60 * 60_000 };
const AUTOMATIC_TTL_MS = 5 * 60_000;

/** Tokens of a text, deterministically: a quarter of its characters, rounded up. */
export const tokensOf = (text: string): number => Math.ceil(text.length / 4);

/** Anthropic's models, under their own name or OpenRouter's `anthropic/` prefix, cache only at breakpoints. */
export const cachesAtBreakpoints = (model: string): boolean => /anthropic\/|claude/i.test(model);

type Entry = { expiresAt: number; ttlMs: number };

export type PromptCache = {
  /** Reads and writes the cache for one prompt, and says how its tokens are billed. */
  serve(prompt: PromptToCache): CacheUsage;
  /** Live and expired entries held (a bounded replay keeps this small). */
  size(): number;
  clear(): void;
};

export function createPromptCache(): PromptCache {
  const entries = new Map<string, Entry>();
  const live = (digest: string, now: number): Entry | undefined => {
    const entry = entries.get(digest);
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  };

  function atBreakpoints({ blocks, now }: PromptToCache, digests: string[], ends: number[]): CacheUsage {
    const breakpoints = blocks.flatMap((block, i) => (block.breakpoint === undefined ? [] : [i]));
    let readEnd = -1;
    for (const at of breakpoints) {
      for (let i = at; i >= Math.max(0, at - LOOKBACK_BLOCKS); i--) {
        if (live(digests[i]!, now) === undefined) continue;
        readEnd = Math.max(readEnd, i);
        break;
      }
    }
    const read = readEnd < 0 ? 0 : ends[readEnd]!;
    if (readEnd >= 0) {
      const entry = entries.get(digests[readEnd]!)!;
      entry.expiresAt = now + entry.ttlMs;
    }
    // Each breakpoint past what was read writes the tokens since the previous one, at its own TTL.
    let written = read;
    let write5m = 0;
    let write1h = 0;
    for (const at of breakpoints) {
      if (ends[at]! <= written || ends[at]! < LEAST_CACHED_TOKENS) continue;
      const ttl = blocks[at]!.breakpoint!;
      if (ttl === "1h") write1h += ends[at]! - written;
      else write5m += ends[at]! - written;
      written = ends[at]!;
      entries.set(digests[at]!, { expiresAt: now + TTL_MS[ttl], ttlMs: TTL_MS[ttl] });
    }
    return { promptTokens: ends.at(-1) ?? 0, cacheReadTokens: read, cacheWriteTokens: write5m + write1h, cacheWrite1hTokens: write1h };
  }

  function automatic({ now }: PromptToCache, digests: string[], ends: number[]): CacheUsage {
    let matched = 0;
    for (let i = digests.length - 1; i >= 0; i--) {
      if (live(digests[i]!, now) === undefined) continue;
      matched = ends[i]!;
      break;
    }
    const read =
      matched < LEAST_CACHED_TOKENS ? 0 : LEAST_CACHED_TOKENS + Math.floor((matched - LEAST_CACHED_TOKENS) / AUTOMATIC_STEP_TOKENS) * AUTOMATIC_STEP_TOKENS;
    for (const digest of digests) entries.set(digest, { expiresAt: now + AUTOMATIC_TTL_MS, ttlMs: AUTOMATIC_TTL_MS });
    return { promptTokens: ends.at(-1) ?? 0, cacheReadTokens: read, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
  }

  return {
    serve(prompt) {
      const explicit = cachesAtBreakpoints(prompt.model);
      const digests = prefixDigests(explicit ? prompt.model : `${prompt.model}\n${prompt.cacheKey ?? ""}`, prompt.blocks);
      const ends: number[] = [];
      let total = 0;
      for (const block of prompt.blocks) {
        total += tokensOf(block.text);
        ends.push(total);
      }
      return explicit ? atBreakpoints(prompt, digests, ends) : automatic(prompt, digests, ends);
    },
    size: () => entries.size,
    clear: () => entries.clear(),
  };
}

/** The digest of each prefix (through block i), seeded by the cache's identity: equal prefixes, equal digests. */
function prefixDigests(identity: string, blocks: readonly Block[]): string[] {
  let digest = createHash("sha256").update(identity).digest("hex");
  return blocks.map((block) => {
    digest = createHash("sha256").update(digest).update("\u0000").update(block.text).digest("hex");
    return digest;
  });
}
