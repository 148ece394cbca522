/**
 * The generation routes, one handler over the engine for every surface:
 * POST /v1/chat/completions (OpenAI's Chat Completions), POST /v1/messages
 * (Anthropic's Messages) and POST /v1/responses (OpenAI's Responses), each parsed and rendered by its surface, with the routing headers.
 */
import type { Context } from "hono";
import { type ChatInput, runChat } from "../engine/chat.ts";
import { outcomeHeaders } from "../engine/headers.ts";
import type { OutcomeVariables } from "../engine/outcome.ts";
import { asApiError } from "../http/errors.ts";
import { headerSafe } from "../http/header-text.ts";
import { rawStringsFor } from "../http/raw-strings.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";
import { anthropicMessagesSurface } from "../surfaces/anthropic-messages/index.ts";
import { chatCompletionsSurface } from "../surfaces/chat-completions/index.ts";
import { openAiResponsesSurface } from "../surfaces/openai-responses/index.ts";
import type { Surface } from "../surfaces/surface.ts";
import { responseStoreFor } from "./responses.ts";

export type GenerationContext = Context<With<KeyVariables & OutcomeVariables>>;

export const chatCompletions = (c: GenerationContext): Promise<Response> => generate(c, chatCompletionsSurface);
export const messages = (c: GenerationContext): Promise<Response> => generate(c, anthropicMessagesSurface);
export const responses = (c: GenerationContext): Promise<Response> => generate(c, openAiResponsesSurface(responseStoreFor(c), logStoreError(c)));

async function generate(c: GenerationContext, surface: Surface): Promise<Response> {
  const services = c.get("services");
  const parsed = await surface.parse(c.req.raw, services.config);
  const { request, dropped } = parsed;
  const outcome = await runChat(services, { request, ...engineInput(c), ...(parsed.native === undefined ? {} : { native: parsed.native }) });
  // The audit row names the id an answer is stored under (never what it held).
  c.set("outcome", parsed.storedAs === undefined || outcome.answer === undefined ? outcome : { ...outcome, storedResponse: parsed.storedAs });
  for (const [name, value] of Object.entries(await outcomeHeaders(outcome))) c.header(name, value);
  // What the surface could not hand to any target, named rather than dropped in silence.
  // The notes name what the client sent (a field's key, a tool's name): a header carries them as ASCII.
  // A pass-through answer dropped only the router's own bounds: the provider had the request as it was sent.
  const { answer, error } = outcome;
  const passedThrough = answer !== undefined && answer.kind !== "replay" && answer.native === true;
  const named = passedThrough ? (parsed.nativeDropped ?? []) : dropped;
  if (named.length > 0) c.header("x-tiergate-dropped", headerSafe(named.join(", ")));
  if (answer === undefined) throw error ?? asApiError(new Error("the engine gave neither an answer nor an error"));
  const { body, contentType } = await surface.render(answer, parsed);
  return c.body(body, 200, contentType);
}

/** What an engine takes of the request besides its body: the caller, its cache directives and signal, the key's admission and joint, `waitUntil`. */
export function engineInput(c: GenerationContext): Omit<ChatInput, "request"> {
  return {
    caller: c.get("caller"),
    headers: c.req.raw.headers,
    signal: c.req.raw.signal,
    raw: rawStringsFor(c.req.raw),
    admission: c.get("admission"),
    joint: c.get("joint"),
    defer: (work) => c.executionCtx.waitUntil(work.catch(() => {})),
  };
}

function logStoreError(c: GenerationContext): (error: unknown) => void {
  return (error) => console.error(JSON.stringify({ request_id: c.get("requestId"), error: `response not stored: ${String(error)}` }));
}
