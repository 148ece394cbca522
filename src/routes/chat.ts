/** POST /v1/chat/completions: decide, answer from the cache or the provider, with routing headers. */
import type { Context } from "hono";
import type { AuditDraft } from "../audit/trail.ts";
import { cacheKey } from "../cache/key.ts";
import { type CachePolicy, cachePolicy } from "../cache/policy.ts";
import { type CachedCompletion, type CacheWrite, prepareCacheWrite, readCache } from "../cache/response-cache.ts";
import { assembleStream, replayAsStream, type StreamAssembler } from "../cache/stream-assembly.ts";
import type { Config } from "../config/env.ts";
import { type Model, TIER_NAMES } from "../config/registry.ts";
import type { AppEnv } from "../http/app-env.ts";
import { type ChatRequest, requestedOutputTokens } from "../openai/chat-request.ts";
import { ApiError } from "../openai/errors.ts";
import { type Attempt, answerWithFallbacks } from "../providers/attempts.ts";
import { callUpstream, type UpstreamAnswer } from "../providers/upstream.ts";
import { costUsd, type Usage } from "../providers/usage.ts";
import type { Decision } from "../routing/decide.ts";
import { reserveFor } from "../security/settlement.ts";
import { decisionHeaders, headerSafe, readAndDecide } from "./decision.ts";

const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const JSON_TYPE = { "content-type": "application/json" };

export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const draft = c.get("audit");
  const { request, decision } = await readAndDecide(c);
  for (const [name, value] of Object.entries(decisionHeaders(decision))) c.header(name, value);

  const caller = c.get("caller");
  const policy = cachePolicy(c.req.raw.headers, config, caller?.admin === true);
  const scope = { tenant: caller?.tenantId ?? null, user: request.user ?? null };
  const key = policy.read || policy.write ? await cacheKey(request, decision, scope) : "";
  if (policy.read) {
    const hit = await readCache(config, key);
    if (hit !== undefined) return serveHit(c, hit, request, draft);
  }
  draft.cacheStatus = policy.read ? "MISS" : "BYPASS";
  return serveFromProvider(c, request, decision, policy, key);
}

async function serveFromProvider(c: Context<AppEnv>, request: ChatRequest, decision: Decision, policy: CachePolicy, key: string): Promise<Response> {
  const config = c.get("config");
  const draft = c.get("audit");
  const provider = config.providers.get(decision.model.provider);
  if (provider === undefined || !provider.configured) throw notConfigured(decision, config);
  const caller = c.get("caller");
  const budgeted = caller !== undefined && !caller.admin && (await reserveFor(c, caller, { usd: decision.estimatedCostUsd, tokens: decision.estimatedTokens }));
  const stream = request.stream === true;
  let assembler: StreamAssembler | undefined;
  const plan = [decision.model, ...decision.fallbacks]
    .filter((model) => config.providers.get(model.provider)?.configured === true)
    .slice(0, config.retry.maxModels);
  const attempts: Attempt[] = [];
  draft.attempts = attempts;
  const startedAt = Date.now();
  const call = (model: Model): Promise<UpstreamAnswer> => {
    assembler = stream && policy.write ? assembleStream() : undefined;
    return callUpstream({
      provider: config.providers.get(model.provider)!,
      // Under a budget, an answer may not write more than was reserved for it.
      body: upstreamBody(request, model.upstream_model, stream, budgeted ? config.estimatedOutputTokens : undefined),
      stream,
      clientWantsUsage: request.stream_options?.include_usage === true,
      timeoutMs: config.upstreamTimeoutMs,
      secrets: config.secrets,
      clientSignal: c.req.raw.signal,
      ...(assembler ? { onData: assembler.add } : {}),
    });
  };
  let served: { model: Model; answer: UpstreamAnswer };
  try {
    served = await answerWithFallbacks(plan, config.retry, call, attempts);
  } finally {
    draft.fallbacksTried = [...new Set(attempts.map((attempt) => attempt.model))];
    c.header("x-tiergate-attempts", headerSafe(attempts.map((a) => `${a.model} ${a.outcome} ${a.ms}ms`).join(", ")));
  }
  const { model, answer } = served;
  // The model that answered is the one the client is told of, the record keeps, and the tokens are priced at.
  draft.pricedAs = model;
  draft.route = { tier: model.tier, score: decision.score, model: model.id, provider: model.provider };
  c.header("x-tiergate-model", model.id);
  c.header("x-tiergate-provider", model.provider);
  c.header("x-tiergate-tier", String(model.tier));
  const after = c.get("after");
  /** The cache write for a complete answer; the isolate's copy is made now, Redis's goes in the after-response batch. */
  const cacheWrite = (body: string | undefined, usage: Usage | undefined): CacheWrite | undefined =>
    body === undefined || !policy.write
      ? undefined
      : prepareCacheWrite(config, key, { body, usage, model: model.id, provider: model.provider, tier: model.tier, score: decision.score }, policy.ttlSeconds);

  if (answer.stream) {
    after.firstTokenAt = Date.now(); // the relay has read the stream's first event
    draft.stream = answer.outcome.then((outcome) => {
      draft.upstreamMs = Date.now() - startedAt;
      if (assembler && !outcome.truncated) after.cacheWrite = cacheWrite(assembler.result(), outcome.usage);
      return outcome;
    });
    return c.body(answer.body, 200, SSE);
  }
  draft.upstreamMs = Date.now() - startedAt;
  draft.usage = answer.usage;
  if (answer.complete) after.cacheWrite = cacheWrite(answer.text, answer.usage);
  if (answer.usage !== undefined) {
    c.header("x-tiergate-cost-usd", costUsd(model, answer.usage.promptTokens, answer.usage.completionTokens).toFixed(8));
  }
  return c.body(answer.text, 200, JSON_TYPE);
}

function serveHit(c: Context<AppEnv>, hit: CachedCompletion, request: ChatRequest, draft: AuditDraft): Response {
  draft.cacheStatus = "HIT";
  draft.route = { tier: hit.tier, score: hit.score, model: hit.model, provider: hit.provider };
  draft.usage = hit.usage;
  c.header("x-tiergate-model", hit.model);
  c.header("x-tiergate-provider", hit.provider);
  c.header("x-tiergate-tier", String(hit.tier));
  c.header("x-tiergate-cost-usd", (0).toFixed(8));
  if (request.stream === true) return c.body(replayAsStream(hit.body, request.stream_options?.include_usage === true), 200, SSE);
  return c.body(hit.body, 200, JSON_TYPE);
}

/**
 * The client's body for the provider: its model id in place of ours, and usage asked
 * for on streams so the router can price them. Spread, not Object.assign, so a
 * client's own `__proto__` key stays a plain property.
 */
function upstreamBody(request: ChatRequest, upstreamModel: string, stream: boolean, defaultMaxTokens: number | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model: upstreamModel };
  if (defaultMaxTokens !== undefined && requestedOutputTokens(request) === undefined) body.max_tokens = defaultMaxTokens;
  if (stream) body.stream_options = { ...request.stream_options, include_usage: true };
  return body;
}

/** 503 naming every variable that would let some model of the chosen tier serve. */
function notConfigured(decision: Decision, config: Config): ApiError {
  const tierProviders = new Set(config.registry.filter((m) => m.tier === decision.tier).map((m) => m.provider));
  const variables = [...tierProviders].map((id) => config.providers.get(id)?.configureWith ?? id);
  return new ApiError(
    503,
    `No provider is configured for tier ${decision.tier} (${TIER_NAMES[decision.tier]}). Set ${[...new Set(variables)].join(" or ")} (wrangler secret put in production, .dev.vars locally).`,
    { code: "provider_not_configured" },
  );
}
