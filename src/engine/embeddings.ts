/**
 * The embeddings engine: the model, the cache, the requests check and the reservation
 * (gate.ts, as for chat), then the provider, in as many calls as its batch limits need,
 * and one answer reassembled in order. Like a chat request, it ends in one `Outcome`.
 */
import { embeddingsCacheKey } from "../cache/key.ts";
import { cachePolicy } from "../cache/policy.ts";
import type { CachedCompletion, ResponseCache } from "../cache/response-cache.ts";
import { base64Dimensions, type EmbeddingInput, type EmbeddingRequest, inputsOf, inputTokens } from "../canonical/embeddings.ts";
import type { Config } from "../config/env.ts";
import { ApiError, asApiError } from "../http/errors.ts";
import { type Attempt, answerWithFallbacks } from "../providers/attempts.ts";
import { callEmbeddings } from "../providers/embeddings.ts";
import type { Usage } from "../providers/usage.ts";
import { catalogModelNamed, embeds } from "../routing/catalog.ts";
import { cheapestNoDearer, type EmbeddingModel, findEmbeddingModel } from "../routing/embedding-models.ts";
import { costMicros } from "../routing/registry.ts";
import { hasBudget } from "../security/budgets.ts";
import type { Caller } from "../security/caller.ts";
import type { CredentialVault } from "../security/credential-vault.ts";
import { type Reserves, type Settlement, toGiveBack } from "../security/settlement.ts";
import { chargeFor } from "./charge.ts";
import { cacheScope, type GateInput, passGate } from "./gate.ts";
import { type Ending, NO_ENDING, type Outcome, type Route, stoppedAt } from "./outcome.ts";
import { credentialOf, inTenantView, tenantCredentialProviders, unchargedOn } from "./tenant-view.ts";

export type EmbeddingServices = Reserves & { config: Config; responseCache: ResponseCache; credentials: Pick<CredentialVault, "viewFor"> };

export type EmbeddingsInput = GateInput & {
  request: EmbeddingRequest;
  headers: Headers;
  signal: AbortSignal | undefined;
};

/** Provider calls of one request in flight at once: a large batch is fast without flooding the provider. */
const PARALLEL_CALLS = 4;

export async function runEmbeddings(shared: EmbeddingServices, input: EmbeddingsInput): Promise<Outcome> {
  const { request, caller } = input;
  // As chat's: a tenant's own credentials, where it has them (engine/tenant-view.ts).
  const services = await inTenantView(shared, caller);
  const { config } = services;
  let route: Route | undefined;
  let status: Outcome["cache"] = "BYPASS";
  let settlement: Settlement | undefined;
  const stopped = (error: unknown, held: Settlement | undefined): Outcome => ({
    ...stoppedAt(request, undefined, asApiError(error)),
    route,
    cache: status,
    settlement: toGiveBack(held),
  });
  try {
    const model = modelFor(config, request.model, caller);
    route = { tier: null, score: null, model: model.id, provider: model.provider };
    const dimensions = dimensionsFor(model, request.dimensions);
    const inputs = inputsOf(request);
    const tokens = inputs.map(inputTokens);
    for (const [index, count] of tokens.entries()) {
      // A token array is counted exactly; a text's count is only estimated, so the provider judges it.
      if (typeof inputs[index] !== "string" && count > model.max_input_tokens) {
        throw new ApiError(400, `input[${index}] holds ${count} tokens; ${model.id} takes at most ${model.max_input_tokens} an input`, {
          code: "context_length_exceeded",
          param: `input[${index}]`,
        });
      }
    }
    const policy = cachePolicy(input.headers, config.cache, caller?.admin === true);
    const key = policy.read || policy.write ? await embeddingsCacheKey({ model: model.id, dimensions }, inputs, cacheScope(caller, request.user)) : "";
    status = policy.read ? "MISS" : "BYPASS";
    const estimated = tokens.reduce((sum, count) => sum + count, 0);
    // An embedding is all prompt: it writes nothing that is priced.
    const pricing = { id: model.id, input_usd_per_mtok: model.input_usd_per_mtok, output_usd_per_mtok: 0 };
    const provider = config.providers.get(model.provider);
    // On the tenant's own credential with BYOK_BILLING=none, the budget neither reserves nor pays for it.
    const uncharged = unchargedOn(config)(model);
    const reserving = caller !== undefined && !caller.admin && provider?.configured === true && !uncharged;
    const gate = await passGate(services, input, {
      readKey: policy.read ? key : undefined,
      servable: (hit) => caller === undefined || caller.models === null || caller.models.includes(hit.model),
      estimate: reserving ? { micros: costMicros(pricing, estimated, 0), tokens: estimated } : undefined,
    });
    settlement = gate.settlement;
    if (gate.kind === "refused") return stopped(gate.reason, settlement);
    if (gate.kind === "hit") return fromCache(request, route, gate.hit, settlement);
    if (provider === undefined || !provider.configured) {
      throw new ApiError(503, `No provider is configured for ${model.id}. Set ${provider?.configureWith ?? model.provider}.`, {
        code: "provider_not_configured",
      });
    }
    if (settlement?.refusal !== undefined) return stopped(settlement.refusal, settlement);
    const served = await embedAll(services, input, model, inputs, tokens, dimensions);
    // Nothing embedded, nothing charged.
    if (served.failure !== undefined && served.estimate === 0) return { ...stopped(served.failure, settlement), attempts: served.attempts };
    const reservedMicros = caller !== undefined && hasBudget(caller) && !uncharged ? settlement?.spend?.micros : undefined;
    const charged = chargeFor({
      model: { ...pricing, context_window: model.max_input_tokens * inputs.length },
      reported: served.usage,
      promptEstimate: served.estimate,
      promptFloor: served.estimate,
      sent: { chars: served.sentChars, images: 0 },
      writtenChars: 0,
      completionLimit: 0,
      reservedMicros,
    });
    const outcome = {
      ...stoppedAt(request, undefined),
      route,
      cache: status,
      settlement,
      attempts: served.attempts,
      pricedAs: pricing,
      credential: credentialOf(config, model.provider),
      tenantCredentials: tenantCredentialProviders(config),
      uncharged,
    };
    if (served.failure !== undefined) {
      // What the provider embedded before a call failed is charged: it was served, and billed.
      return { ...outcome, answer: undefined, error: served.failure, ending: Promise.resolve({ ...NO_ENDING, ...charged }) };
    }
    const text = JSON.stringify({
      object: "list",
      data: served.vectors.map((embedding, index) => ({ object: "embedding", index, embedding })),
      model: model.upstream_model,
      usage: { prompt_tokens: charged.usage.promptTokens, total_tokens: charged.usage.promptTokens },
    });
    const cacheWrite = policy.write
      ? services.responseCache.prepareWrite(
          key,
          { body: text, usage: charged.usage, model: model.id, provider: model.provider, tier: null, score: null },
          policy.ttlSeconds,
        )
      : undefined;
    const ending: Ending = { ...NO_ENDING, ...charged, upstreamMs: served.upstreamMs, cacheWrite };
    return { ...outcome, answer: { kind: "json", text }, ending: Promise.resolve(ending) };
  } catch (error) {
    return stopped(error, settlement);
  }
}

/**
 * `auto` is the first embedding model the key may use (always the same one for a key, so its
 * vectors stay comparable); any other name must be an embedding model (a chat model cannot
 * embed), and one the key may use. A name the catalog knows and the list lacks
 * (`text-embedding-ada-002`) gets the cheapest model the key may use that is no dearer.
 */
function modelFor(config: Config, name: string, caller: Caller | undefined): EmbeddingModel {
  const allowed = (model: EmbeddingModel): boolean => caller === undefined || caller.models === null || caller.models.includes(model.id);
  const model = name === "auto" ? (config.embeddingModels.find(allowed) ?? config.embeddingModels[0]) : findEmbeddingModel(config.embeddingModels, name);
  if (model === undefined) return noDearerThan(config, name, allowed);
  if (!allowed(model)) {
    throw new ApiError(403, `This API key may not use the model '${model.id}'`, { code: "model_not_allowed", param: "model" });
  }
  return model;
}

function noDearerThan(config: Config, name: string, allowed: (model: EmbeddingModel) => boolean): EmbeddingModel {
  const known = catalogModelNamed(name);
  const shown = name.slice(0, 200);
  if (known === undefined || !embeds(known)) {
    throw new ApiError(404, `The model '${shown}' is not an embedding model of this router (GET /v1/models lists them)`, {
      code: "model_not_found",
      param: "model",
    });
  }
  const model = cheapestNoDearer(config.embeddingModels.filter(allowed), known);
  if (model === undefined) {
    throw new ApiError(
      404,
      `The model '${shown}' is not in this router, and no embedding model this key may use is as cheap ($${known.prices.input_usd_per_mtok}/Mtok)`,
      {
        code: "model_not_found",
        param: "model",
      },
    );
  }
  return model;
}

/** The vector length asked: the model's own, or a shorter one where the model can shorten its vectors. */
function dimensionsFor(model: EmbeddingModel, asked: number | undefined): number {
  if (asked === undefined || asked === model.dimensions) return model.dimensions;
  if (!model.shortens || asked > model.dimensions) {
    const can = model.shortens ? `from 1 to ${model.dimensions}` : `${model.dimensions} only`;
    throw new ApiError(400, `dimensions ${asked} is not one ${model.id} can return: ${can}`, { code: "invalid_value", param: "dimensions" });
  }
  return asked;
}

/** The inputs' indices in calls the provider takes: in order, none over the model's batch limits (an input over them goes alone). */
export function batchesOf(tokens: readonly number[], limits: Pick<EmbeddingModel, "max_batch_inputs" | "max_batch_tokens">): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let held = 0;
  for (const [index, count] of tokens.entries()) {
    if (current.length > 0 && (current.length === limits.max_batch_inputs || held + count > limits.max_batch_tokens)) {
      batches.push(current);
      current = [];
      held = 0;
    }
    current.push(index);
    held += count;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

type Served = {
  vectors: string[];
  usage: Usage | undefined;
  sentChars: number;
  attempts: Attempt[];
  upstreamMs: number;
  /** Why a call failed, when one did: the vectors are then those of the calls that answered. */
  failure: ApiError | undefined;
  /** The estimated tokens of the inputs the provider embedded. */
  estimate: number;
};

/** Every batch through the provider (retried as a completion is), with the usage summed; stops at the first call that fails. */
async function embedAll(
  services: EmbeddingServices,
  input: EmbeddingsInput,
  model: EmbeddingModel,
  inputs: EmbeddingInput[],
  tokens: number[],
  dimensions: number,
): Promise<Served> {
  const { config } = services;
  const startedAt = Date.now();
  const served: Served = { vectors: new Array(inputs.length), usage: undefined, sentChars: 0, attempts: [], upstreamMs: 0, failure: undefined, estimate: 0 };
  let promptTokens = 0;
  let unreported = 0;
  const embed = async (batch: number[]): Promise<void> => {
    const { answer } = await answerWithFallbacks(
      [model],
      config.retry,
      () =>
        callEmbeddings({
          provider: config.providers.get(model.provider)!,
          upstreamModel: model.upstream_model,
          inputs: batch.map((index) => inputs[index]!),
          // Sent only when it shortens: a model that cannot is never asked.
          dimensions: dimensions === model.dimensions ? undefined : dimensions,
          user: input.request.user,
          timeoutMs: config.upstreamTimeoutMs,
          secrets: config.secrets,
          clientSignal: input.signal,
        }),
      served.attempts,
    );
    const estimate = batch.reduce((sum, index) => sum + tokens[index]!, 0);
    served.sentChars += answer.sentChars;
    served.estimate += estimate;
    // A batch without a report is counted as estimated (engine/charge.ts bounds the sum).
    if (answer.usage === undefined) unreported += estimate;
    else promptTokens += answer.usage.promptTokens;
    for (const [position, index] of batch.entries()) {
      const vector = answer.vectors[position]!;
      if (base64Dimensions(vector) !== dimensions) {
        throw new ApiError(502, `Provider ${model.provider} answered a vector of ${base64Dimensions(vector)} dimensions, not ${dimensions}`, {
          type: "upstream_error",
          code: "upstream_bad_response",
        });
      }
      served.vectors[index] = vector;
    }
  };
  const batches = batchesOf(tokens, model);
  try {
    for (let start = 0; start < batches.length; start += PARALLEL_CALLS) {
      const wave = await Promise.allSettled(batches.slice(start, start + PARALLEL_CALLS).map(embed));
      const failed = wave.find((result) => result.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    }
  } catch (error) {
    served.failure = asApiError(error);
  }
  served.upstreamMs = Date.now() - startedAt;
  if (served.estimate > 0) {
    served.usage = { promptTokens: promptTokens + unreported, completionTokens: 0 };
    if (unreported > 0) served.usage.adjusted = [`no usage reported for ${unreported} tokens of inputs: counted as estimated`];
  }
  return served;
}

function fromCache(request: EmbeddingRequest, route: Route, hit: CachedCompletion, settlement: Settlement | undefined): Outcome {
  return {
    ...stoppedAt(request, undefined),
    route: { ...route, model: hit.model, provider: hit.provider },
    cache: "HIT",
    settlement,
    answer: { kind: "json", text: hit.body },
    ending: Promise.resolve({ ...NO_ENDING, usage: hit.usage }),
  };
}
