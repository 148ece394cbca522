/**
 * A request as its surface read it, kept beside the canonical request for a provider that
 * speaks the surface's own format: a Messages request routed to Anthropic goes as the client
 * sent it (thinking and its signatures, documents, every breakpoint), which the canonical
 * chat request cannot hold. Routing, the cache key, money and the audit read the canonical
 * request still; only the adapter that speaks `format` reads this. It is set by the surface,
 * never by a client's body, so no Chat request can smuggle one in.
 */
export type NativeRequest = {
  format: "anthropic-messages";
  /** The client's body, as read (unknown fields kept). */
  body: Readonly<Record<string, unknown>>;
  /** The client's `anthropic-beta` header, passed on with it. */
  beta: string | undefined;
};
