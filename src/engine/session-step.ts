/**
 * The session steps of a chat request: its key and what the isolate remembers of it
 * before the decision, the Redis read beside the gate's other store calls, and what is
 * remembered once the provider has answered. See docs/sessions.md.
 */
import type { SessionAddress, SessionStore, SessionWrite } from "../cache/session-store.ts";
import { asksOneHourCache, type CanonicalRequest } from "../canonical/request.ts";
import type { RememberedSession, SessionView } from "../routing/affinity.ts";
import type { Model } from "../routing/registry.ts";
import { continuesConversation, isToolContinuation, type SessionSource, scopedSession, sessionDigest } from "../routing/session.ts";
import { type Caller, ownerOf } from "../security/caller.ts";

export type SessionServices = { config: { sessionAffinity: boolean }; sessions: SessionStore };

/** How long a provider keeps a prompt cache after its last read: Anthropic's default and its longer one. */
const CACHE_LIFE_MS = 5 * 60_000;
const HOUR_CACHE_LIFE_MS = 60 * 60_000;

/** The request's session as the first decision sees it. */
export type SessionLookup = {
  source: SessionSource;
  /** The session's digest: the isolate's, for a named session it knows; else taken while the decision is made. */
  digest: Promise<string>;
  /** The isolate's name for a named session: its scoped id, short and known before any digest. A derived one goes by its digest. */
  named: string | undefined;
  /** What the decision is given: what the isolate remembers (or nothing yet). */
  view: SessionView;
  /**
   * The Redis read, when the isolate does not know the session and it may be known: sent
   * at once, so it travels with the gate's calls (a read a replica answers), not after them.
   */
  pending: Promise<RememberedSession | undefined> | undefined;
};

/**
 * The session, what the isolate remembers of it, and (when that is nothing) the Redis read
 * started. A request that names no session and holds only its first turn can be in none
 * routing has seen: it reads nothing. With SESSION_AFFINITY=off nothing is read.
 * @throws ApiError 400 for an `x-session-id` over 256 characters.
 */
export async function lookUpSession(
  services: SessionServices,
  request: CanonicalRequest,
  headers: Headers,
  caller: Caller | undefined,
): Promise<SessionLookup> {
  const scoped = scopedSession(request, headers, ownerOf(caller));
  const steers = services.config.sessionAffinity;
  const named = scoped.source === "derived" ? undefined : scoped.text;
  // A named session the isolate knows needs no digest: Web Crypto's would cost more than the whole decision in Node.
  const knownNamed = steers && named !== undefined ? services.sessions.inIsolate(named) : undefined;
  const digest = knownNamed === undefined ? sessionDigest(scoped) : Promise.resolve(knownNamed.digest);
  // Only a conversation with an answer in it can be in a session routing has seen, unless it names one.
  const mayBeKnown = steers && (named !== undefined || continuesConversation(request.messages));
  // A derived session's text is the conversation's whole start, too long to name it in the isolate: its digest does.
  const known = named === undefined && mayBeKnown ? services.sessions.inIsolate(await digest)?.remembered : knownNamed?.remembered;
  return {
    source: scoped.source,
    digest,
    named,
    view: { remembered: known, steers, continuation: isToolContinuation(request.messages), now: Date.now() },
    pending: mayBeKnown && known === undefined ? digest.then((name) => services.sessions.read({ local: named ?? name, digest: name })) : undefined,
  };
}

/** The view with what Redis remembered, once its read is in; undefined when it adds nothing to what was decided on. */
export async function viewAfterRead(lookup: SessionLookup): Promise<SessionView | undefined> {
  if (lookup.pending === undefined) return undefined;
  const remembered = await lookup.pending;
  return remembered === undefined ? undefined : { ...lookup.view, remembered, now: Date.now() };
}

/**
 * What the session remembers once `model` has answered: it holds the session's cache now,
 * for 5 minutes from this call or an hour when the request asked for that. The isolate's
 * copy is made at once; the Redis write rides the after-response batch. A first turn that
 * names no session is remembered in the isolate alone: most such requests never have a
 * second turn, and a write for each would add a Redis command to every one-shot request.
 * Nothing with SESSION_AFFINITY=off.
 */
export function rememberAnswer(
  services: SessionServices,
  lookup: SessionLookup | undefined,
  digest: string | undefined,
  request: CanonicalRequest,
  model: Model,
  promptTokens: number,
): SessionWrite | undefined {
  if (lookup === undefined || digest === undefined || !lookup.view.steers) return undefined;
  const address: SessionAddress = { local: lookup.named ?? digest, digest };
  const life = asksOneHourCache(request) ? HOUR_CACHE_LIFE_MS : CACHE_LIFE_MS;
  const write = services.sessions.remember(address, { model: model.id, tier: model.tier, cacheUntil: Date.now() + life, promptTokens });
  return lookup.named !== undefined || continuesConversation(request.messages) ? write : undefined;
}
