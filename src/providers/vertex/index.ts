/**
 * Vertex AI: Google's models through a project's Vertex endpoint, signed with the service
 * account's access token (token.ts). The body, the answers and the errors are Gemini's
 * (providers/gemini/); what is Vertex's own is here: the URL of a publisher's model and the
 * bearer header. Both are exported for the other publisher Vertex serves: Claude
 * (`vertexModelUrl(provider, "anthropic", model, "rawPredict")`, with Anthropic's body).
 */
import type { Provider } from "../../config/providers.ts";
import type { VertexAccount } from "../../config/vertex.ts";
import { ApiError } from "../../http/errors.ts";
import type { ProviderAdapter } from "../adapter.ts";
import { googleAdapter } from "../gemini/index.ts";
import { isolateTokens } from "./token.ts";

/** A publisher's model method: Gemini's (Google's) or the Anthropic Messages ones (Claude's). */
export type VertexMethod = "generateContent" | "streamGenerateContent" | "rawPredict" | "streamRawPredict";

/**
 * `{host}/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{method}`;
 * the host is the region's (`aiplatform.googleapis.com` for `global`) unless VERTEX_BASE_URL sets it.
 * @example vertexModelUrl(provider, "google", "gemini-3.5-flash", "generateContent")
 * // "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-3.5-flash:generateContent"
 */
export function vertexModelUrl(provider: Provider, publisher: "google" | "anthropic", model: string, method: VertexMethod): string {
  const { project, region } = accountOf(provider);
  return `${provider.baseUrl.replace(/\/+$/, "")}/v1/projects/${project}/locations/${region}/publishers/${publisher}/models/${encodeURIComponent(model)}:${method}`;
}

/** The bearer header of the provider's service account (a token held, or fetched first). */
export async function vertexAuthorization(provider: Provider): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await isolateTokens.get(accountOf(provider).serviceAccount)}` };
}

function accountOf(provider: Provider): VertexAccount {
  if (provider.vertex === undefined) {
    throw new ApiError(503, `Provider ${provider.id} is not configured. Set VERTEX_SERVICE_ACCOUNT_JSON.`, { code: "provider_not_configured" });
  }
  return provider.vertex;
}

const gemini = googleAdapter({
  modelUrl: (provider, model, method) => vertexModelUrl(provider, "google", model, method),
  authorize: vertexAuthorization,
  modelsProbe: (provider, model) => ({ url: `${provider.baseUrl.replace(/\/+$/, "")}/v1beta1/publishers/google/models/${encodeURIComponent(model)}` }),
});

/**
 * A 401 from Vertex means the token it was sent is no good (revoked, the key deleted): that
 * account's is dropped here, so its next call fetches another; every other account's (the
 * router's, other tenants') stays. The same for a publisher's adapter built on `vertexAuthorization`.
 */
export function forgetRefusedToken(status: number, provider: Provider | undefined): void {
  if (status === 401 && provider?.vertex !== undefined) isolateTokens.forget(provider.vertex.serviceAccount);
}

/** Gemini on Vertex AI. Its probe of the model list reads the one model (Vertex lists publisher models in v1beta1 only). */
export const vertex: ProviderAdapter = {
  ...gemini,
  errorKind(status, body, headers, provider) {
    forgetRefusedToken(status, provider);
    return gemini.errorKind?.(status, body, headers, provider);
  },
};
