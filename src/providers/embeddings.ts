/** One embeddings call to a provider, through its adapter, with the same timeout and failure policy as a completion (upstream.ts). */
import type { Provider } from "../config/providers.ts";
import { ApiError } from "../http/errors.ts";
import type { EmbeddingsAnswer, EmbeddingsCall } from "./adapter.ts";
import { adapterFor } from "./adapters.ts";
import { callFailure, callSignal, describeProviderError, upstreamError } from "./upstream.ts";

export type EmbeddingsRequest = EmbeddingsCall & {
  provider: Provider;
  timeoutMs: number;
  secrets: readonly string[];
  clientSignal?: AbortSignal | undefined;
};

/** `sentChars`: the length of the body sent, a bound on the tokens a provider can honestly count. */
export async function callEmbeddings(request: EmbeddingsRequest): Promise<EmbeddingsAnswer & { sentChars: number }> {
  const { provider, timeoutMs, clientSignal } = request;
  const adapter = adapterFor(provider);
  const { controller, release } = callSignal(timeoutMs, clientSignal);
  try {
    const call = adapter.embeddingsRequest(provider, request);
    const response = await fetch(call.url, { method: "POST", headers: call.headers, body: call.body, signal: controller.signal });
    if (!response.ok) throw await upstreamError(request, adapter, response);
    const text = await response.text();
    const read = adapter.readEmbeddings(text, request.inputs.length);
    if (!("failure" in read)) return { ...read, sentChars: call.body.length };
    if (read.failure === "error") {
      throw new ApiError(502, `Provider ${provider.id} answered 200 with an error${describeProviderError(adapter, text, request.secrets)}`, {
        type: "upstream_error",
        code: "upstream_error",
      });
    }
    const what = read.failure === "not_json" ? "with a body that is not JSON" : `without one vector for each of the ${request.inputs.length} inputs`;
    throw new ApiError(502, `Provider ${provider.id} answered ${what}`, { type: "upstream_error", code: "upstream_bad_response" });
  } catch (error) {
    throw callFailure(error, { provider, timeoutMs, clientSignal, timedOut: controller.signal });
  } finally {
    release();
  }
}
