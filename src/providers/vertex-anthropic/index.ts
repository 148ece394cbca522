/**
 * Claude on Vertex AI: Anthropic's publisher models at a project's Vertex endpoint
 * (`…/publishers/anthropic/models/{model}:rawPredict`, `:streamRawPredict`), signed with the
 * Vertex service account's bearer token. Everything between the URL and the answer is the
 * Anthropic adapter's (providers/anthropic/): the same body (translated, or a Messages request
 * as the client sent it), the same readers of the Message and its event stream. Vertex's own
 * are the URL (the model is in it, so the body names none), `anthropic_version` in the body
 * instead of the header, and Google's error shape for what Vertex refuses before Claude sees
 * it (a bad token, a quota): read after Anthropic's, which Vertex passes through.
 */
import { jsonBody } from "../../http/raw-strings.ts";
import type { ProviderAdapter } from "../adapter.ts";
import { anthropic } from "../anthropic/index.ts";
import { googleErrorKind, unwrapErrorArray } from "../gemini/errors.ts";
import { forgetRefusedToken, vertexAuthorization, vertexModelUrl } from "../vertex/index.ts";

/** The Anthropic API version Vertex takes, in the body. */
export const VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16";

/** What `body` gives `completionRequest`: the model for the URL, Anthropic's body without it, and the beta header. */
type VertexClaudeBody = { model: string; message: Record<string, unknown>; beta: string | undefined };

/** Anthropic's body for the same request, as Vertex takes it: no `model`, and Vertex's `anthropic_version`. */
function vertexMessage(message: Record<string, unknown>): Record<string, unknown> {
  const { model: _inTheUrl, ...rest } = message;
  return { anthropic_version: VERTEX_ANTHROPIC_VERSION, ...rest };
}

export const vertexAnthropic: ProviderAdapter = {
  ...anthropic,

  body(request, upstreamModel, options): VertexClaudeBody {
    const { message, beta } = anthropic.body(request, upstreamModel, options) as { message: Record<string, unknown>; beta: string | undefined };
    return { model: upstreamModel, message: vertexMessage(message), beta };
  },

  async completionRequest(provider, body, stream, raw) {
    const { model, message, beta } = body as VertexClaudeBody;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
      ...(await vertexAuthorization(provider)),
    };
    // Vertex takes Anthropic's beta features in the same header.
    if (beta !== undefined && beta !== "") headers["anthropic-beta"] = beta;
    return { url: vertexModelUrl(provider, "anthropic", model, stream ? "streamRawPredict" : "rawPredict"), headers, body: jsonBody(message, raw) };
  },

  /** The model's own page (Vertex lists publisher models in v1beta1 only), or a one-token message. */
  async probeRequest(provider, kind, model) {
    const headers = { accept: "application/json", ...(await vertexAuthorization(provider)) };
    if (kind === "models") {
      return { url: `${provider.baseUrl.replace(/\/+$/, "")}/v1beta1/publishers/anthropic/models/${encodeURIComponent(model)}`, init: { headers } };
    }
    const body = vertexMessage({ max_tokens: 1, messages: [{ role: "user", content: "ping" }] });
    return {
      url: vertexModelUrl(provider, "anthropic", model, "rawPredict"),
      init: { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) },
    };
  },

  errorKind(status, body, _headers, provider) {
    forgetRefusedToken(status, provider);
    return anthropic.errorKind?.(status, body) ?? googleErrorKind(status, body);
  },

  /** Anthropic's `{"type":"error","error":{"message"}}` and Google's `{"error":{"message"}}` both, or Vertex's one-element array of the latter. */
  errorMessage: (body) => anthropic.errorMessage(unwrapErrorArray(body)),
};
