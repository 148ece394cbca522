/**
 * The session a chat request belongs to, and what its last turn is: the key routing pins
 * a conversation by (so it stays where the provider's prompt cache of it lives), as a
 * digest scoped to the caller. Pure but for the digest (Web Crypto).
 */
import type { CanonicalRequest, Message } from "../canonical/request.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { sha256Hex } from "../crypto/digest.ts";
import { ApiError } from "../http/errors.ts";

/** The longest `x-session-id` taken: longer is a client's mistake, refused rather than cut. */
export const SESSION_ID_MAX_CHARS = 256;

/** Where a request's session came from, in the order they are looked for. */
export type SessionSource = "header" | "prompt_cache_key" | "claude_code" | "derived";

/** A request's session: the digest is all that leaves the router (headers, the audit row, the provider's cache key). */
export type SessionKey = { digest: string; source: SessionSource };

/** A request's session before its digest: where it came from, and the caller-scoped text the digest is taken of. */
export type ScopedSession = { source: SessionSource; text: string };

/** Who a session belongs to (security/caller.ts `ownerOf`): two tenants never share one, whatever id they send. */
export type SessionOwner = { tenant: string | null; key: string | null };

/** Hex characters of the digest kept: 128 bits, as unguessable as a UUID, and short in a header. */
const DIGEST_CHARS = 32;

/** Claude Code before 2.1: `user_<hash>_account_<uuid>_session_<uuid>`. */
const LEGACY_CLAUDE_CODE = /_session_([0-9a-fA-F-]{8,64})$/;

/**
 * The session's raw value and its source: `x-session-id`, else `prompt_cache_key`, else
 * the session in Claude Code's `metadata.user_id` (the canonical `user`), else undefined
 * (the caller derives one from the conversation's start).
 * @throws ApiError 400 naming `x-session-id` when it is longer than SESSION_ID_MAX_CHARS.
 */
export function namedSession(request: CanonicalRequest, headers: Headers): { source: SessionSource; value: string } | undefined {
  const header = headers.get("x-session-id")?.trim();
  if (header !== undefined && header !== "") {
    if (header.length > SESSION_ID_MAX_CHARS) {
      throw new ApiError(400, `The header 'x-session-id' may be at most ${SESSION_ID_MAX_CHARS} characters; it has ${header.length}`, {
        code: "invalid_value",
        param: "x-session-id",
      });
    }
    return { source: "header", value: header };
  }
  const cacheKey = (request as { prompt_cache_key?: unknown }).prompt_cache_key;
  if (typeof cacheKey === "string" && cacheKey !== "") return { source: "prompt_cache_key", value: cacheKey };
  const claudeCode = claudeCodeSession(request.user);
  return claudeCode === undefined ? undefined : { source: "claude_code", value: claudeCode };
}

/**
 * The session id inside Claude Code's `metadata.user_id`: the JSON it sends since 2.1
 * (`{"device_id", "account_uuid", "session_id"}`) or the older `user_…_session_<uuid>`.
 * @example claudeCodeSession("user_ab12_account_…_session_5f0c…") // "5f0c…"
 */
export function claudeCodeSession(user: string | null | undefined): string | undefined {
  if (typeof user !== "string" || user === "") return undefined;
  if (user.startsWith("{")) {
    try {
      const sessionId = (JSON.parse(user) as { session_id?: unknown }).session_id;
      return typeof sessionId === "string" && sessionId !== "" ? sessionId : undefined;
    } catch {
      return undefined;
    }
  }
  return LEGACY_CLAUDE_CODE.exec(user)?.[1];
}

/**
 * The request's session, scoped to its owner, as text. A request that names no session is
 * one by its start: the tools, the system prompt and the first user message, which every
 * later turn of the same conversation re-sends unchanged.
 * @throws ApiError 400 for an `x-session-id` over SESSION_ID_MAX_CHARS.
 */
export function scopedSession(request: CanonicalRequest, headers: Headers, owner: SessionOwner): ScopedSession {
  const named = namedSession(request, headers);
  // The source is not in the text: a client that sends one id as both x-session-id and prompt_cache_key has one session.
  return named === undefined
    ? { source: "derived", text: canonicalJson({ owner, session: { start: conversationStart(request) } }) }
    : { source: named.source, text: canonicalJson({ owner, session: named.value }) };
}

/** The digest of a scoped session: the only form of it that leaves the router. */
export async function sessionDigest(scoped: ScopedSession): Promise<string> {
  return (await sha256Hex(scoped.text)).slice(0, DIGEST_CHARS);
}

/**
 * The request's session key: its source and its digest (`scopedSession`, then `sessionDigest`).
 * @throws ApiError 400 for an `x-session-id` over SESSION_ID_MAX_CHARS.
 */
export async function sessionKeyOf(request: CanonicalRequest, headers: Headers, owner: SessionOwner): Promise<SessionKey> {
  const scoped = scopedSession(request, headers, owner);
  return { digest: await sessionDigest(scoped), source: scoped.source };
}

/** What a conversation begins with, as text: the same on every turn of it. */
function conversationStart(request: CanonicalRequest): string {
  const system = request.messages.filter((message) => message.role === "system" || message.role === "developer");
  const firstUser = request.messages.find((message) => message.role === "user");
  return canonicalJson({ tools: request.tools ?? null, system: system.map((m) => m.content), user: firstUser?.content ?? null });
}

/**
 * Whether the request is a tool-result continuation: its last turn holds only tool
 * results (tool messages, perhaps followed by a user message of the images the surface
 * moved out of them), so the model is mid-task, not answering a new question.
 */
export function isToolContinuation(messages: readonly Message[]): boolean {
  let last = messages.length - 1;
  const tail = messages[last];
  if (tail?.role === "user" && Array.isArray(tail.content) && tail.content.every((part) => part.type === "image_url")) last--;
  const role = messages[last]?.role;
  return role === "tool" || role === "function";
}

/**
 * Whether a conversation is a continuation at all (some earlier answer in it): a
 * request that is only its first turn can have no session that routing remembers unless
 * it named one, so it needs no look-up.
 */
export function continuesConversation(messages: readonly Message[]): boolean {
  return messages.some((message) => message.role === "assistant" || message.role === "tool" || message.role === "function");
}
