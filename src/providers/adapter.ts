/**
 * The provider seam: what a provider's wire format needs to be called and read. One
 * adapter per format (`providers/<id>/`), chosen by the provider's `api`; the call,
 * the retries and the stream relay are the same for all of them.
 *
 * Whose credential: an adapter reads it from the `Provider` it is handed, and only there.
 * For a request of a tenant with its own credential (docs/byok.md) that is a copy of the
 * router's provider with the tenant's: `{...provider, apiKey, credentialOwner: tenant}`
 * for a key (Azure's tenant endpoint, if given, in `baseUrl`), or
 * `{...provider, apiKey: undefined, credential, credentialOwner: tenant}` for AWS's and
 * GCP's credentials, shaped as the admin API takes them (security/provider-credentials.ts).
 * An adapter caches nothing under a credential in a way another tenant could reach (a
 * signed token or a client is cached per credential, never per provider alone), and
 * never puts a credential in a message: the request's secrets include the tenant's.
 */

import type { EmbeddingInput } from "../canonical/embeddings.ts";
import type { NativeRequest } from "../canonical/native.ts";
import type { CanonicalRequest } from "../canonical/request.ts";
import type { Provider } from "../config/providers.ts";
import type { RawStrings, SplicedJson } from "../http/raw-strings.ts";
import type { Usage } from "./usage.ts";

/** What one stream event says, as the relay needs it. */
export type StreamEvent = {
  /** A choice finished in this event: the answer is whole even if the stream then ends without its end marker. */
  finished: boolean;
  /** The usage the event reports, if any. */
  usage: Usage | undefined;
  /** The event carries usage and nothing the client asked for (the usage chunk the router asked for itself). */
  usageOnly: boolean;
  /** Characters of answer the event carries (text, tool arguments, refusals, reasoning): what is counted when usage never comes. */
  outputChars: number;
};

/** One embeddings call: the provider's model id, a batch of inputs, and the vector length asked (when the model shortens). */
export type EmbeddingsCall = { upstreamModel: string; inputs: EmbeddingInput[]; dimensions: number | undefined; user: string | undefined };

/** An embeddings answer: one base64 vector per input, in the inputs' order, and the usage. */
export type EmbeddingsAnswer = { vectors: string[]; usage: Usage | undefined };

/** What the call adds to the canonical request's body. */
export type BodyOptions = {
  stream: boolean;
  /** The session's digest (routing/session.ts): the provider's cache key where the client set none (OpenAI's `prompt_cache_key`). */
  sessionKey?: string;
  /** The client's own request, when this adapter speaks its format (`passThrough`): then it is the body, and the canonical request only bounds it. */
  native?: NativeRequest;
};

/** How an adapter reads an answer: a JSON answer, a stream's first event, and each event. */
export type AnswerReaders = Pick<ProviderAdapter, "readCompletion" | "firstEvent" | "readEvent">;

/**
 * What an adapter that speaks a surface's own format does with that surface's requests:
 * they go as the client sent them (see `BodyOptions.native`), and the answer comes back as
 * the provider sent it, read by `readers` (made per call: a stream's readers keep state),
 * a stream broken midway ended with the format's own error event.
 */
export type PassThrough = {
  format: NativeRequest["format"];
  readers(): AnswerReaders;
  /** The provider's stream as the relay reads it: its events as they came, the opening held until the answer has content (an error before it fails the call's start). */
  stream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  errorEvent(message: string): string;
};

/** One call as it goes out: where, with which headers and body. */
export type ProviderCall = { url: string; headers: Record<string, string>; body: string };
/** A completion call: its body is spliced bytes where the request's long strings go as the client sent them (http/raw-strings.ts). */
export type CompletionCall = Omit<ProviderCall, "body"> & { body: string | SplicedJson };

/**
 * What a provider's refusal means to the router where its status alone does not say
 * (see `upstreamError`): a prompt too long for the model and a filtered one are the
 * client's (4xx, not retried); a refused credential or account (`auth_failed`: a key
 * revoked, credit spent, a model or deployment the account may not use) is the provider's
 * (502, the next model is tried, and the credential's circuit counts it); an overloaded
 * provider is a 503.
 */
export type ProviderErrorKind = "context_too_long" | "content_filtered" | "auth_failed" | "rate_limited" | "overloaded";

/** A probe as it goes out. */
export type ProbeCall = { url: string; init: RequestInit };

export type ProviderAdapter = {
  /**
   * The completion call: where it goes, with which headers and body. A promise where the
   * call must be signed (SigV4) or its token fetched first (a service account's). `raw`: the
   * request's long strings as the client's bytes, for `jsonBody` (an adapter that signs its
   * body may leave them).
   */
  completionRequest(provider: Provider, body: unknown, stream: boolean, raw?: RawStrings): CompletionCall | Promise<CompletionCall>;
  /** The canonical request as this provider's body, with its own model id. */
  body(request: CanonicalRequest, upstreamModel: string, options: BodyOptions): unknown;
  /** A cheap health check: the provider's model list, or a one-token completion. */
  probeRequest(provider: Provider, kind: "models" | "completion", model: string): ProbeCall | Promise<ProbeCall>;
  /**
   * The provider's JSON answer as an OpenAI chat completion: what the readers below, the
   * response cache and every surface read. The same text for an adapter that speaks OpenAI's format.
   */
  chatAnswer(text: string, upstreamModel: string): string;
  /**
   * The provider's stream as OpenAI chat-completion SSE (`data: {chunk}` events, then
   * `data: [DONE]`), usage in the last chunk. The same stream for an adapter that speaks OpenAI's format.
   */
  chatStream(body: ReadableStream<Uint8Array>, upstreamModel: string): ReadableStream<Uint8Array>;
  /** Requests of a surface whose format this adapter speaks, passed through untranslated. */
  passThrough?: PassThrough;
  /**
   * What a refusal means, read from its status, body and headers (AWS names its errors in one) where the status alone
   * does not say; `provider` is whose call it was (Vertex drops that account's token on a 401).
   */
  errorKind?(status: number, body: string, headers?: Pick<Headers, "get">, provider?: Provider): ProviderErrorKind | undefined;
  /** How long the provider asks to be left alone, in seconds, where it says so in the error's body and not in `retry-after` (Google's `RetryInfo`). */
  retryAfter?(body: string): string | undefined;
  /** A JSON answer's usage and completeness, or why it is not an answer. */
  readCompletion(
    text: string,
  ): { usage: Usage | undefined; complete: boolean; outputChars: number } | { failure: "not_json" | "error" | "no_choices" | "bad_tool_calls" };
  /** How a stream's first event begins it: a completion chunk, the provider's error event, or anything else. */
  firstEvent(data: string): "chunk" | "error" | "unreadable";
  /** One stream event's `data` (read for every event, so it parses only what carries usage). */
  readEvent(data: string): StreamEvent;
  /** The embeddings call: where it goes, with which headers and body. */
  embeddingsRequest(provider: Provider, call: EmbeddingsCall): { url: string; headers: Record<string, string>; body: string };
  /** An embeddings answer for `count` inputs, or why it is not one. */
  readEmbeddings(text: string, count: number): EmbeddingsAnswer | { failure: "not_json" | "error" | "wrong_count" };
  /** The provider's own words in an error body, when it said any. */
  errorMessage(body: string): string;
};
