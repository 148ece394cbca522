/**
 * What one request came to. Each step of a request returns its value; the handler
 * ends in one `Outcome`, from which the audit trail makes the signed record and the
 * event the breakers and metrics hear. Nothing writes into it after.
 */
import type { CacheStatus } from "../cache/policy.ts";
import type { CacheWrite } from "../cache/response-cache.ts";
import type { SessionWrite } from "../cache/session-store.ts";
import type { EmbeddingRequest } from "../canonical/embeddings.ts";
import type { CanonicalRequest } from "../canonical/request.ts";
import type { ApiError } from "../http/errors.ts";
import type { Attempt } from "../providers/attempts.ts";
import type { Usage } from "../providers/usage.ts";
import type { Decision } from "../routing/decide.ts";
import type { Model } from "../routing/registry.ts";
import type { Settlement } from "../security/settlement.ts";
import type { OutputCap } from "./output-cap.ts";

/** Where the answer came from: the model that answered, the cached entry's, or (before either) the decision's pick. */
export type Route = { tier: number | null; score: number | null; model: string; provider: string };

/**
 * The answer in the canonical format, for the surface to render: OpenAI's chat.completion,
 * a provider's SSE stream relayed live, or a cached completion replayed as that stream.
 * `native`: the answer is in the client's own format instead, as the provider sent it (a
 * pass-through, see canonical/native.ts), for the surface to send as it is.
 */
export type Answer =
  | { kind: "json"; text: string; native?: true }
  | { kind: "stream"; body: ReadableStream<Uint8Array>; native?: true }
  | { kind: "replay"; body: string };

/** How the answer ended: known at once for JSON, when the stream closes for a stream. */
export type Ending = {
  /** The usage charged (engine/charge.ts): the provider's report, bounded, or the router's count. */
  usage: Usage | undefined;
  /** What the answer is charged, in micro-dollars; unset when no provider answered. */
  costMicros: number | undefined;
  /** The stream stopped before its end: the client got a partial answer. */
  truncated: boolean;
  /** Why a stream stopped early, when it did. */
  streamError: string | undefined;
  /** From the first provider call to the end of the answer. */
  upstreamMs: number | undefined;
  /** The Redis half of a complete answer's cache write. */
  cacheWrite: CacheWrite | undefined;
  /** The Redis half of what the answer's session remembers (engine/session-step.ts). */
  sessionWrite?: SessionWrite | undefined;
};

/** What the client asked, as read: a chat request of any surface, or an embeddings request. */
export type AskedRequest = CanonicalRequest | EmbeddingRequest;

/** What a model's answer is priced at. */
export type Pricing = Pick<Model, "input_usd_per_mtok" | "output_usd_per_mtok">;

export type Outcome = {
  /** The client asked for a stream. (The request itself is not kept: its audit digest is of the body's bytes, http/body-digest.ts.) */
  streamed: boolean;
  decision: Decision | undefined;
  route: Route | undefined;
  cache: CacheStatus;
  /** What was reserved before the provider call, put right by the trail once the real cost is known. */
  settlement: Settlement | undefined;
  /** Every provider call, in order. */
  attempts: readonly Attempt[];
  /** The model whose prices the answer's tokens cost (a chat or an embedding model); unset for cache hits, which cost nothing. */
  pricedAs: (Pricing & { id: string }) | undefined;
  answer: Answer | undefined;
  /** When a stream's first event arrived (ms since the epoch). */
  firstTokenAt: number | undefined;
  ending: Promise<Ending>;
  /** Why the request failed, when it did after it was read. */
  error: ApiError | undefined;
  /** The output tokens per choice asked, and the fewer sent: what a budget near its end could still pay (output-cap.ts). */
  outputCap: Pick<OutputCap, "asked" | "cap" | "by"> | undefined;
  /** Whose credential the provider that answered was called with (unset when none answered). */
  credential?: "router" | "tenant";
  /** BYOK_BILLING=none and the answer was served on the tenant's own credential: budgets are charged nothing for it. */
  uncharged?: boolean;
  /** The providers the request was to call on its tenant's own credentials: their failures are that tenant's alone. */
  tenantCredentials?: readonly string[];
  /** The id the answer was stored under (a Responses API response with `store`), set by the route. */
  storedResponse?: string;
};

/** The context variable the handler that ran a request sets, once, and the middleware around it read. */
export type OutcomeVariables = { outcome?: Outcome };

export const NO_ENDING: Ending = {
  usage: undefined,
  costMicros: undefined,
  truncated: false,
  streamError: undefined,
  upstreamMs: undefined,
  cacheWrite: undefined,
};

/** The outcome of a request that was read (and perhaps decided) and went no further. */
export function stoppedAt(request: AskedRequest, decision: Decision | undefined, error?: ApiError): Outcome {
  return {
    streamed: "stream" in request && request.stream === true,
    decision,
    route: decision === undefined ? undefined : routeOf(decision),
    cache: "BYPASS",
    settlement: undefined,
    attempts: [],
    pricedAs: undefined,
    answer: undefined,
    firstTokenAt: undefined,
    ending: Promise.resolve(NO_ENDING),
    error,
    outputCap: undefined,
  };
}

export function routeOf(decision: Decision): Route {
  return { tier: decision.tier, score: decision.score, model: decision.model.id, provider: decision.model.provider };
}
