/** What chat and route share: read the request, decide, tell the audit trail, and the routing headers. */
import type { Context } from "hono";
import type { AppEnv } from "../http/app-env.ts";
import { readJsonBody } from "../http/json-body.ts";
import { type ChatRequest, ChatRequestSchema } from "../openai/chat-request.ts";
import { currentHealth, routingHealth } from "../reliability/breakers.ts";
import { type Decision, decide } from "../routing/decide.ts";

/** Reads and validates the body, decides where it goes, and records both on the request's audit draft. */
export async function readAndDecide(c: Context<AppEnv>): Promise<{ request: ChatRequest; decision: Decision }> {
  const config = c.get("config");
  const draft = c.get("audit");
  const request = await readJsonBody(c.req.raw, config.maxBodyBytes, ChatRequestSchema);
  draft.request = request;
  const caller = c.get("caller");
  const state = await currentHealth(config);
  const decision = decide(request, config, caller ?? undefined, routingHealth(config, state));
  draft.route = { tier: decision.tier, score: decision.score, model: decision.model.id, provider: decision.model.provider };
  draft.scoring = { features: decision.vector, routerModel: decision.modelVersion };
  return { request, decision };
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
export function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 512);
}
