/** POST /v1/chat/completions: decide, call the provider, answer with its own body plus routing headers. */
import type { Context } from "hono";
import { TIER_NAMES } from "../config/registry.ts";
import type { Config } from "../config/env.ts";
import type { AppEnv } from "../http/app-env.ts";
import { readJsonBody } from "../http/json-body.ts";
import { ChatRequestSchema, type ChatRequest } from "../openai/chat-request.ts";
import { ApiError } from "../openai/errors.ts";
import { callUpstream } from "../providers/upstream.ts";
import { costUsd } from "../providers/usage.ts";
import { decide, type Decision } from "../routing/decide.ts";

export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const request = await readJsonBody(c.req.raw, config.maxBodyBytes, ChatRequestSchema);
  const decision = decide(request, config);
  for (const [name, value] of Object.entries(decisionHeaders(decision))) c.header(name, value);

  const provider = config.providers.get(decision.model.provider);
  if (provider === undefined || !provider.configured) throw notConfigured(decision, config);
  const stream = request.stream === true;
  const answer = await callUpstream({
    provider,
    body: upstreamBody(request, decision.model.upstream_model, stream),
    stream,
    clientWantsUsage: request.stream_options?.include_usage === true,
    timeoutMs: config.upstreamTimeoutMs,
  });
  if (answer.stream) {
    c.executionCtx.waitUntil(answer.outcome);
    c.header("cache-control", "no-cache");
    return c.body(answer.body, 200, { "content-type": "text/event-stream; charset=utf-8" });
  }
  if (answer.usage !== undefined) {
    const cost = costUsd(decision.model, answer.usage.promptTokens, answer.usage.completionTokens);
    c.header("x-tiergate-cost-usd", cost.toFixed(8));
  }
  return c.body(answer.text, 200, { "content-type": "application/json" });
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
