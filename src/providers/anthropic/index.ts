/**
 * The native Anthropic adapter: `POST /v1/messages` with the key in `x-api-key` and
 * `anthropic-version`. A Chat Completions or Responses request is translated (request.ts)
 * and its answer read back as OpenAI's (answer.ts, stream.ts); a Messages request goes as
 * the client sent it, its `anthropic-beta` header too, and its answer comes back untouched
 * (native.ts). See docs/providers.md.
 */
import { jsonBody } from "../../http/raw-strings.ts";
import type { CompletionCall, ProviderAdapter } from "../adapter.ts";
import { openAiCompatible } from "../openai-compatible/index.ts";
import { toChatCompletion } from "./answer.ts";
import { anthropicErrorKind, anthropicErrorMessage } from "./errors.ts";
import { holdOpening, nativeBody, nativeErrorEvent, nativeReaders } from "./native.ts";
import { messagesBody } from "./request.ts";
import { toChatStream } from "./stream.ts";

/** The API version every call names (Anthropic's only one). */
export const ANTHROPIC_VERSION = "2023-06-01";

/** What `body` gives `completionRequest`: the Messages body, and the beta header to send with it. */
type AnthropicBody = { message: Record<string, unknown>; beta: string | undefined };

export const anthropic: ProviderAdapter = {
  body(request, upstreamModel, { stream, native }) {
    if (native !== undefined) return { message: nativeBody(native, request, upstreamModel, stream), beta: native.beta } satisfies AnthropicBody;
    return { message: messagesBody(request, upstreamModel, stream), beta: undefined } satisfies AnthropicBody;
  },

  completionRequest(provider, body, stream, raw): CompletionCall {
    const { message, beta } = body as AnthropicBody;
    const headers: Record<string, string> = {
      ...anthropicHeaders(provider.apiKey),
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
    };
    if (beta !== undefined && beta !== "") headers["anthropic-beta"] = beta;
    return { url: `${base(provider.baseUrl)}/v1/messages`, headers, body: jsonBody(message, raw) };
  },

  probeRequest(provider, kind, model) {
    const headers = anthropicHeaders(provider.apiKey);
    if (kind === "models") return { url: `${base(provider.baseUrl)}/v1/models`, init: { headers } };
    const body = { model, max_tokens: 1, messages: [{ role: "user", content: "ping" }] };
    return {
      url: `${base(provider.baseUrl)}/v1/messages`,
      init: { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) },
    };
  },

  chatAnswer: toChatCompletion,
  chatStream: toChatStream,
  passThrough: { format: "anthropic-messages", readers: nativeReaders, stream: holdOpening, errorEvent: nativeErrorEvent },
  errorKind: anthropicErrorKind,
  errorMessage: anthropicErrorMessage,

  // The translated answer is OpenAI's: OpenAI's readers read it.
  readCompletion: openAiCompatible.readCompletion,
  firstEvent: openAiCompatible.firstEvent,
  readEvent: openAiCompatible.readEvent,

  embeddingsRequest() {
    // No registry entry gives Anthropic an embedding model (loadEmbeddingModels' providers are OpenAI-compatible).
    throw new Error("Anthropic serves no embeddings");
  },
  readEmbeddings: () => ({ failure: "not_json" }),
};

function anthropicHeaders(apiKey: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json", "anthropic-version": ANTHROPIC_VERSION };
  if (apiKey !== undefined) headers["x-api-key"] = apiKey;
  return headers;
}

const base = (url: string): string => url.replace(/\/+$/, "");
