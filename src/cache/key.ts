/** The response-cache key: a hash of everything that changes the answer, and nothing else. */
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { sha256Hex } from "../crypto/digest.ts";
import type { ChatRequest, Message } from "../openai/chat-request.ts";
import type { Decision } from "../routing/decide.ts";

/** Fields that change how the answer is delivered or billed, not what it says. */
const NOT_IN_KEY = new Set(["model", "messages", "stream", "stream_options", "user"]);

/**
 * Hash of the constitutional hash, the normalised messages, the target (the named
 * model, or `auto` plus the tier) and every other parameter.
 * @example await cacheKey(request, decision) // "3f2a…" (64 hex characters)
 */
export async function cacheKey(request: ChatRequest, decision: Decision): Promise<string> {
  const parameters: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) {
    if (!NOT_IN_KEY.has(name) && value !== null && value !== undefined) parameters[name] = value;
  }
  return sha256Hex(
    canonicalJson({
      constitution: CONSTITUTIONAL_HASH,
      target: decision.mode === "model" ? decision.model.id : `auto/tier:${decision.tier}`,
      messages: request.messages.map(normaliseMessage),
      parameters,
    }),
  );
}

/** Whitespace runs become one space and ends are trimmed, in every text of the message. */
function normaliseMessage(message: Message): Message {
  const content = message.content;
  if (typeof content === "string") return { ...message, content: squash(content) } as Message;
  if (!Array.isArray(content)) return message;
  const parts = content.map((part) => (part.type === "text" ? { ...part, text: squash(part.text) } : part));
  return { ...message, content: parts } as Message;
}

const squash = (text: string): string => text.replace(/\s+/g, " ").trim();
