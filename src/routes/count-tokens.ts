/**
 * POST /v1/messages/count_tokens: the prompt tokens of a Messages request, as the router
 * counts them for routing, limits and reservations (routing/estimate.ts): an estimate,
 * as the provider's own count is known only once it answers.
 */
import type { Context } from "hono";
import { readJsonBody } from "../http/json-body.ts";
import type { With } from "../middleware/edge.ts";
import { sentPrompt } from "../routing/estimate.ts";
import { scoreComplexity } from "../routing/score.ts";
import { CountTokensSchema, toCanonical } from "../surfaces/anthropic-messages/request.ts";

export async function countTokens(c: Context<With>): Promise<Response> {
  const { config } = c.get("services");
  const { request } = toCanonical(await readJsonBody(c.req.raw, config.maxBodyBytes, CountTokensSchema), config.messagesMaxTokens);
  return c.json({ input_tokens: sentPrompt(request, scoreComplexity(request, config.routerModel).promptTokens).tokens });
}
