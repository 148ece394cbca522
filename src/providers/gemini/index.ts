/**
 * The Gemini adapters: Google AI Studio's Gemini API (`x-goog-api-key`) here, and Vertex AI
 * (a service account's bearer token, providers/vertex/) built from the same parts: one body
 * (request.ts), one reading of answers and streams (answer.ts, stream.ts), one reading of
 * errors (errors.ts). Only where the call goes and how it is signed differ. Answers are turned
 * into OpenAI's chat format, so OpenAI's readers read them (openai-compatible/).
 */
import type { Provider } from "../../config/providers.ts";
import { ApiError } from "../../http/errors.ts";
import { jsonBody } from "../../http/raw-strings.ts";
import type { ProviderAdapter } from "../adapter.ts";
import { openAiCompatible } from "../openai-compatible/index.ts";
import { chatCompletion } from "./answer.ts";
import { googleErrorKind, googleRetryAfter, unwrapErrorArray } from "./errors.ts";
import { type GeminiCall, geminiRequest } from "./request.ts";
import { chatChunks } from "./stream.ts";

/** Where a Gemini model's calls go and how they are signed: what AI Studio and Vertex do differently. */
export type GoogleEndpoint = {
  /** The model's URL for `method` (`generateContent`, `streamGenerateContent`), without the query. */
  modelUrl(provider: Provider, model: string, method: "generateContent" | "streamGenerateContent"): string;
  /** The headers that sign the call. */
  authorize(provider: Provider): Record<string, string> | Promise<Record<string, string>>;
  /** The probe that lists models, with its headers. */
  modelsProbe(provider: Provider, model: string): { url: string } | Promise<{ url: string }>;
};

/** A Gemini adapter for an endpoint. */
export function googleAdapter(endpoint: GoogleEndpoint): ProviderAdapter {
  return {
    async completionRequest(provider, body, stream, raw) {
      const { model, request } = body as GeminiCall;
      const url = endpoint.modelUrl(provider, model, stream ? "streamGenerateContent" : "generateContent");
      return {
        url: stream ? `${url}?alt=sse` : url,
        headers: { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json", ...(await endpoint.authorize(provider)) },
        body: jsonBody(request, raw),
      };
    },

    /** Gemini caches a prompt's prefix on its own (implicit caching): there is no key or breakpoint to send. */
    body: (request, upstreamModel): GeminiCall => ({ model: upstreamModel, request: geminiRequest(request) }),

    async probeRequest(provider, kind, model) {
      const headers = { accept: "application/json", ...(await endpoint.authorize(provider)) };
      if (kind === "models") return { url: (await endpoint.modelsProbe(provider, model)).url, init: { headers } };
      const body = { contents: [{ role: "user", parts: [{ text: "ping" }] }], generationConfig: { maxOutputTokens: 1 } };
      return {
        url: endpoint.modelUrl(provider, model, "generateContent"),
        init: { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) },
      };
    },

    chatAnswer: chatCompletion,
    chatStream: chatChunks,
    errorKind: googleErrorKind,
    retryAfter: googleRetryAfter,
    readCompletion: openAiCompatible.readCompletion,
    firstEvent: openAiCompatible.firstEvent,
    readEvent: openAiCompatible.readEvent,

    embeddingsRequest(provider) {
      throw new ApiError(400, `Provider ${provider.id} serves no embeddings here: give EMBEDDING_MODELS_JSON models of another provider`, {
        code: "invalid_value",
      });
    },
    readEmbeddings: () => ({ failure: "error" }),

    /** Google's `{"error":{"message"}}`, or the one-element array Vertex's streams answer an error in. */
    errorMessage: (body) => openAiCompatible.errorMessage(unwrapErrorArray(body)),
  };
}

const base = (url: string): string => url.replace(/\/+$/, "");

/** Google AI Studio's Gemini API: `{GEMINI_BASE_URL}/v1beta/models/{model}:generateContent`, the key in `x-goog-api-key`. */
export const gemini: ProviderAdapter = googleAdapter({
  modelUrl: (provider, model, method) => `${base(provider.baseUrl)}/v1beta/models/${encodeURIComponent(model)}:${method}`,
  authorize: (provider): Record<string, string> => (provider.apiKey === undefined ? {} : { "x-goog-api-key": provider.apiKey }),
  modelsProbe: (provider) => ({ url: `${base(provider.baseUrl)}/v1beta/models` }),
});
