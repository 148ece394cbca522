/**
 * What the fake provider can be told to do, one set of knobs for every wire format it speaks:
 * fake-upstream.ts serves OpenAI's and dispatches the others to their halves (fake-anthropic.ts,
 * fake-gemini.ts, fake-bedrock.ts, fake-azure.ts), which each read the knobs that mean
 * something in their format. Its own module, so each half imports it and none restates it.
 */

export type FakeBehaviour = {
  /** Delay before the response headers. */
  latencyMs: number;
  /** Extra delay before the first streamed chunk. */
  firstTokenMs: number;
  /** Delay between streamed chunks. */
  tokenIntervalMs: number;
  /** Tokens in the answer, at most the request's `max_tokens` (then it ends in `length`); each is one streamed chunk. */
  completionTokens: number;
  /** Prompt tokens to report; by default a chars/4 estimate of the request's messages. */
  promptTokens: number | undefined;
  /** Answer with this error status and an OpenAI error body: every request, or as `failFirst` and `failModels` narrow it. */
  errorStatus: number | undefined;
  /** Fail this share of requests at random (0..1), with `errorStatus` or else 500. */
  failRate: number;
  /** Fail only this many requests, then answer (a passing fault). */
  failFirst: number | undefined;
  /** Fail only requests for these provider model ids (one model down). */
  failModels: string[] | undefined;
  /** Fail (500, on every model) any request whose messages contain one of these texts: content a provider chokes on. */
  failPrompts: string[] | undefined;
  /** Answer nothing for `hangMs` to any request whose messages contain one of these texts: content a model runs on past any limit. */
  hangPrompts: string[] | undefined;
  hangMs: number;
  /** The Retry-After header sent with error answers. */
  retryAfter: string | undefined;
  /** Destroy the connection after this many streamed chunks. */
  breakAfterChunks: number | undefined;
  /** Stop sending, without closing, after this many streamed chunks. */
  stallAfterChunks: number | undefined;
  /** Anthropic's half only: send its in-stream `event: error` after this many content deltas, and end there. */
  streamErrorAfterChunks: number | undefined;
  /** Answer 401 unless `Authorization: Bearer <requiredKey>` (`api-key: <requiredKey>` on Azure's paths, `x-api-key` on Anthropic's, `x-goog-api-key` on AI Studio's, which answers 400 API_KEY_INVALID as Google does). */
  requiredKey: string | undefined;
  /** Keys answered with a 401 whose message echoes the key (a customer's revoked key, a careless provider). */
  refusedKeys: string[] | undefined;
  /** Prompts refused by Azure's content filter, on Azure's paths (fake-azure.ts). */
  filterPrompts: string[] | undefined;
  /** The message of error answers (a traceback, a leaked key: what careless providers send). */
  errorMessage: string | undefined;
  /** Answer 200 with an error body and no choices, as some providers do. */
  errorIn200: boolean;
  /** End a finished stream (finish reason, usage) without `data: [DONE]`, as some providers do. */
  omitDone: boolean;
  /** Report this `usage` object instead of the real counts (negative, huge, malformed: a provider's bug). */
  usage: unknown;
  /** Answer 200 with a body that is cut off mid-JSON (JSON answers) or a chunk that is not JSON (streams). */
  malformed: boolean;
  /** Send this as a tool-calling answer's `tool_calls` (a provider's bug: an object, `[{function: null}]`); in a stream, as a delta after the first. */
  toolCalls: unknown;
  /** The whole provider is down: every connection, `GET /models` included, is dropped without an answer. */
  down: boolean;
  /** The most inputs one embeddings call may carry (OpenAI's is 2,048); more is a 400, as OpenAI answers. */
  embeddingBatchLimit: number;
  /** Behaviour for particular provider model ids, over the rest (one model slow, another broken). */
  perModel: Record<string, Partial<Omit<FakeBehaviour, "perModel" | "down" | "failFirst">>>;
};

export const DEFAULT_BEHAVIOUR: FakeBehaviour = {
  latencyMs: 0,
  firstTokenMs: 0,
  tokenIntervalMs: 0,
  completionTokens: 8,
  promptTokens: undefined,
  errorStatus: undefined,
  failRate: 0,
  failFirst: undefined,
  failModels: undefined,
  failPrompts: undefined,
  hangPrompts: undefined,
  hangMs: 10_000,
  retryAfter: undefined,
  breakAfterChunks: undefined,
  stallAfterChunks: undefined,
  streamErrorAfterChunks: undefined,
  requiredKey: undefined,
  refusedKeys: undefined,
  filterPrompts: undefined,
  errorMessage: undefined,
  errorIn200: false,
  omitDone: false,
  usage: undefined,
  malformed: false,
  toolCalls: undefined,
  down: false,
  embeddingBatchLimit: 2_048,
  // Frozen: a behaviour copied from the default shares this object; set `perModel` to a new one instead.
  perModel: Object.freeze({}),
};
