/** The response-cache key: a hash of everything that changes the answer, and of who may see it. */

import type { NativeRequest } from "../canonical/native.ts";
import type { CanonicalRequest, Message } from "../canonical/request.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { sha256Hex } from "../crypto/digest.ts";
import type { Decision } from "../routing/decide.ts";

/** Fields that change how the answer is delivered, not what it says (`prompt_cache_key` is a provider-side cache hint); `user` is part of the scope instead. */
const NOT_IN_KEY = new Set(["model", "messages", "stream", "stream_options", "user", "prompt_cache_key"]);

/**
 * Who may share an entry: the API key's tenant; a key without a tenant (the admin key
 * too) shares with no other key; requests without a key share among themselves; and the
 * request's `user`, when sent, narrows any of these.
 */
export type CacheScope = { tenant: string | null; key: string | null; user: string | null };

/**
 * Hash of the constitutional hash, the scope, the messages (JSON key order and the
 * leading and trailing whitespace of a whole text message normalised, nothing else),
 * the target (the named model, or `auto` plus the tier) and every other parameter. A request
 * passed through in its surface's own format (`native`: a Messages request to Anthropic) is
 * keyed on that body too, apart from how it is delivered: its entries are its surface's alone,
 * and what the canonical request cannot hold (thinking and its signatures) tells two apart.
 * @example await cacheKey(request, decision, { tenant: "acme", user: null }) // "3f2a…" (64 hex characters)
 */
export async function cacheKey(request: CanonicalRequest, decision: Decision, scope: CacheScope, native?: NativeRequest): Promise<string> {
  const parameters: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) {
    if (!NOT_IN_KEY.has(name) && value !== null && value !== undefined) parameters[name] = value;
  }
  return sha256Hex(
    canonicalJson({
      constitution: CONSTITUTIONAL_HASH,
      scope,
      target: decision.mode === "model" ? decision.model.id : `auto/tier:${decision.tier}`,
      messages: request.messages.map(normaliseMessage),
      parameters,
      ...(native === undefined ? {} : { native: nativeKeyed(native) }),
    }),
  );
}

function nativeKeyed({ format, body, beta }: NativeRequest): Record<string, unknown> {
  const { stream: _, model: __, ...asked } = body;
  return { format, body: asked, beta: beta ?? null };
}

/**
 * Whitespace inside a text can change its meaning (Python indentation, a Markdown
 * table), so only the ends of a whole string message are trimmed; parts stay as sent.
 */
function normaliseMessage(message: Message): Message {
  return typeof message.content === "string" ? ({ ...message, content: message.content.trim() } as Message) : message;
}

/**
 * An embeddings request's key: the model, the vector length and the exact inputs (an
 * embedding is a function of these alone), and the scope. Texts are not trimmed: a space
 * changes the vector. How the vectors are encoded is how they are sent, not what they are.
 */
export async function embeddingsCacheKey(
  target: { model: string; dimensions: number },
  inputs: readonly (string | number[])[],
  scope: CacheScope,
): Promise<string> {
  return sha256Hex(canonicalJson({ constitution: CONSTITUTIONAL_HASH, scope, kind: "embeddings", target, inputs }));
}
