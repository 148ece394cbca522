/**
 * The Azure OpenAI adapter: OpenAI's chat format at an Azure resource. It is the
 * OpenAI-compatible adapter with Azure's addresses, its `api-key` header and its
 * error codes; the body, the answers and the streams are read by that adapter.
 *
 * Which address: a model with a deployment (AZURE_OPENAI_DEPLOYMENTS) is called at
 * `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={version}`,
 * the deployment naming the model (the body's `model` is left out); a model without
 * one, or every model when the version is `v1`, at `{endpoint}/openai/v1/chat/completions`
 * with the deployment's name (else the model's id) as `model`, which is how the v1
 * API names a deployment. A dated version predates `prompt_cache_key`, so deployment
 * calls are sent none (Azure caches prefixes on its own); v1 calls keep it.
 */
import type { AzureSettings, Provider } from "../../config/providers.ts";
import type { ProviderAdapter, ProviderErrorKind } from "../adapter.ts";
import { openAiCompatible } from "../openai-compatible/index.ts";

/** Where one model's calls go: a deployment under a dated version, or the v1 endpoint. */
type Route = { kind: "deployment"; deployment: string; apiVersion: string } | { kind: "v1"; model: string };

export function azureRoute(settings: AzureSettings | undefined, upstreamModel: string): Route {
  const deployment = settings !== undefined && Object.hasOwn(settings.deployments, upstreamModel) ? settings.deployments[upstreamModel] : undefined;
  if (deployment !== undefined && settings !== undefined && settings.apiVersion !== "v1") {
    return { kind: "deployment", deployment, apiVersion: settings.apiVersion };
  }
  return { kind: "v1", model: deployment ?? upstreamModel };
}

/** `{endpoint}/openai/` plus the path of the operation (`chat/completions`, `embeddings`) for the route. */
function urlFor(provider: Provider, route: Route, operation: string): string {
  const endpoint = provider.baseUrl.replace(/\/+$/, "");
  if (route.kind === "v1") return `${endpoint}/openai/v1/${operation}`;
  return `${endpoint}/openai/deployments/${encodeURIComponent(route.deployment)}/${operation}?api-version=${encodeURIComponent(route.apiVersion)}`;
}

/** The OpenAI-compatible adapter's headers with Azure's key header in place of a bearer token. */
function azureHeaders(provider: Provider, headers: Record<string, string>): Record<string, string> {
  const { authorization: _, ...rest } = headers;
  return provider.apiKey === undefined ? rest : { ...rest, "api-key": provider.apiKey };
}

/** The body as the route takes it: a deployment call names no model and sends no `prompt_cache_key`; a v1 call names the deployment. */
function routedBody(body: unknown, route: Route): unknown {
  if (typeof body !== "object" || body === null) return body;
  if (route.kind === "v1") return { ...body, model: route.model };
  const { model: _, prompt_cache_key: __, ...rest } = body as Record<string, unknown>;
  return rest;
}

type AzureError = { error?: { code?: unknown; innererror?: { code?: unknown } } };

/**
 * Azure's refusals: its content filter (400, `code: "content_filter"`, or
 * `innererror.code: "ResponsibleAIPolicyViolation"`), a prompt past the context window
 * (`context_length_exceeded`), a refused key (401, 403), its rate limit (429).
 */
export function azureErrorKind(status: number, body: string): ProviderErrorKind | undefined {
  if (status === 401 || status === 403) return "auth_failed";
  if (status === 429) return "rate_limited";
  let parsed: AzureError;
  try {
    parsed = JSON.parse(body) as AzureError;
  } catch {
    return undefined;
  }
  const code = parsed?.error?.code;
  if (code === "content_filter" || parsed?.error?.innererror?.code === "ResponsibleAIPolicyViolation") return "content_filtered";
  if (code === "context_length_exceeded") return "context_too_long";
  // A deployment the resource lacks is the router's (or the tenant's endpoint's) configuration, not the client's request.
  if (code === "DeploymentNotFound") return "auth_failed";
  return undefined;
}

export const azureOpenAi: ProviderAdapter = {
  ...openAiCompatible,

  completionRequest(provider, body, stream, raw) {
    const route = azureRoute(provider.azure, modelOf(body));
    const call = openAiCompatible.completionRequest({ ...provider, apiKey: undefined }, routedBody(body, route), stream, raw) as Awaited<
      ReturnType<ProviderAdapter["completionRequest"]>
    >;
    return { url: urlFor(provider, route, "chat/completions"), headers: azureHeaders(provider, call.headers), body: call.body };
  },

  embeddingsRequest(provider, call) {
    const route = azureRoute(provider.azure, call.upstreamModel);
    const made = openAiCompatible.embeddingsRequest({ ...provider, apiKey: undefined }, call);
    const body = JSON.stringify(routedBody(JSON.parse(made.body), route));
    return { url: urlFor(provider, route, "embeddings"), headers: azureHeaders(provider, made.headers), body };
  },

  /** `GET /openai/v1/models` (or the dated `/openai/models`), or a one-token completion of the model. */
  probeRequest(provider, kind, model) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (provider.apiKey !== undefined) headers["api-key"] = provider.apiKey;
    if (kind === "models") {
      const endpoint = provider.baseUrl.replace(/\/+$/, "");
      const version = provider.azure?.apiVersion ?? "v1";
      const url = version === "v1" ? `${endpoint}/openai/v1/models` : `${endpoint}/openai/models?api-version=${encodeURIComponent(version)}`;
      return { url, init: { headers } };
    }
    const call = azureOpenAi.completionRequest(provider, { model, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }, false) as Awaited<
      ReturnType<ProviderAdapter["completionRequest"]>
    >;
    return { url: call.url, init: { method: "POST", headers: call.headers, body: typeof call.body === "string" ? call.body : call.body.bytes } };
  },

  errorKind: azureErrorKind,
};

function modelOf(body: unknown): string {
  const model = (body as { model?: unknown } | null)?.model;
  return typeof model === "string" ? model : "";
}
