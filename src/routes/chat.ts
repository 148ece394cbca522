/** POST /v1/chat/completions: decide, answer from the cache or the provider, with routing headers. */
import type { Context } from "hono";
import type { AuditDraft } from "../audit/trail.ts";
import { cacheKey } from "../cache/key.ts";
import { cachePolicy, type CachePolicy } from "../cache/policy.ts";
import { prepareCacheWrite, readCache, type CachedCompletion } from "../cache/response-cache.ts";
import { assembleStream, replayAsStream } from "../cache/stream-assembly.ts";
import type { Config } from "../config/env.ts";
import { TIER_NAMES } from "../config/registry.ts";
import type { AppEnv } from "../http/app-env.ts";
import { readJsonBody } from "../http/json-body.ts";
import { ChatRequestSchema, type ChatRequest } from "../openai/chat-request.ts";
import { ApiError } from "../openai/errors.ts";
import { callUpstream } from "../providers/upstream.ts";
import { costUsd, readUsage } from "../providers/usage.ts";
import { decide, type Decision } from "../routing/decide.ts";

const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const JSON_TYPE = { "content-type": "application/json" };

export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const draft = c.get("audit");
  const request = await readJsonBody(c.req.raw, config.maxBodyBytes, ChatRequestSchema);
  draft.request = request;
  const decision = decide(request, config);
  draft.route = { tier: decision.tier, score: decision.score, model: decision.model.id, provider: decision.model.provider };
  for (const [name, value] of Object.entries(decisionHeaders(decision))) c.header(name, value);

  const policy = cachePolicy(c.req.raw.headers, config);
  const key = policy.read || policy.write ? await cacheKey(request, decision) : "";
  if (policy.read) {
    const hit = await readCache(config, key);
    if (hit !== undefined) return serveHit(c, hit, request, draft);
  }
  draft.cacheStatus = policy.read ? "MISS" : "BYPASS";
  return serveFromProvider(c, request, decision, policy, key);
}

async function serveFromProvider(
  c: Context<AppEnv>,
  request: ChatRequest,
  decision: Decision,
  policy: CachePolicy,
  key: string,
): Promise<Response> {
  const config = c.get("config");
  const draft = c.get("audit");
  const provider = config.providers.get(decision.model.provider);
  if (provider === undefined || !provider.configured) throw notConfigured(decision, config);
  const stream = request.stream === true;
  const assembler = stream && policy.write ? assembleStream() : undefined;
  draft.fallbacksTried = [decision.model.id];
  draft.pricedAs = decision.model;
  const startedAt = Date.now();
  const answer = await callUpstream({
    provider,
    body: upstreamBody(request, decision.model.upstream_model, stream),
    stream,
    clientWantsUsage: request.stream_options?.include_usage === true,
    timeoutMs: config.upstreamTimeoutMs,
    ...(assembler ? { onData: assembler.add } : {}),
  });
  const cacheEntry = (body: string): CachedCompletion => ({ body, model: decision.model.id, provider: decision.model.provider, tier: decision.tier, score: decision.score });
  const writeLater = (body: string | undefined) => () =>
    body === undefined || !policy.write ? undefined : prepareCacheWrite(config, key, cacheEntry(body), policy.ttlSeconds);

  if (answer.stream) {
    draft.stream = answer.outcome.then((outcome) => {
      draft.upstreamMs = Date.now() - startedAt;
      return outcome;
    });
    if (assembler) draft.cacheWrite = () => writeLater(assembler.result())();
    return c.body(answer.body, 200, SSE);
  }
  draft.upstreamMs = Date.now() - startedAt;
  draft.usage = answer.usage;
  // Into the isolate's cache now, so the next request here hits; Redis gets it after the response.
  const write = writeLater(answer.text)();
  draft.cacheWrite = () => write;
  if (answer.usage !== undefined) {
    c.header("x-tiergate-cost-usd", costUsd(decision.model, answer.usage.promptTokens, answer.usage.completionTokens).toFixed(8));
  }
  return c.body(answer.text, 200, JSON_TYPE);
}

function serveHit(c: Context<AppEnv>, hit: CachedCompletion, request: ChatRequest, draft: AuditDraft): Response {
  draft.cacheStatus = "HIT";
  draft.route = { tier: hit.tier, score: hit.score, model: hit.model, provider: hit.provider };
  const usage = readUsage((JSON.parse(hit.body) as { usage?: unknown }).usage);
  if (usage !== undefined) draft.usage = usage;
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
function upstreamBody(request: ChatRequest, upstreamModel: string, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model: upstreamModel };
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

export function decisionHeaders(decision: Decision): Record<string, string> {
  return {
    "x-tiergate-tier": String(decision.tier),
    "x-tiergate-model": decision.model.id,
    "x-tiergate-provider": decision.model.provider,
    "x-tiergate-score": String(decision.score),
    "x-tiergate-reason": headerSafe(decision.reasons.join("; ")),
  };
}

/** Header values must be printable ASCII; reasons are, but a custom model id may not be. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 512);
}
