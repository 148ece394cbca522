/** POST /v1/chat/completions: the Chat Completions surface over the engine, with the routing headers. */
import type { Context } from "hono";
import { runChat } from "../engine/chat.ts";
import { outcomeHeaders } from "../engine/headers.ts";
import type { OutcomeVariables } from "../engine/outcome.ts";
import { asApiError } from "../http/errors.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";
import { chatCompletionsSurface as surface } from "../surfaces/chat-completions/index.ts";

export async function chatCompletions(c: Context<With<KeyVariables & OutcomeVariables>>): Promise<Response> {
  const services = c.get("services");
  const request = await surface.parse(c.req.raw, services.config.maxBodyBytes);
  const outcome = await runChat(services, {
    request,
    caller: c.get("caller"),
    headers: c.req.raw.headers,
    signal: c.req.raw.signal,
    admission: c.get("admission"),
    defer: (work) => c.executionCtx.waitUntil(work.catch(() => {})),
  });
  c.set("outcome", outcome);
  for (const [name, value] of Object.entries(await outcomeHeaders(outcome))) c.header(name, value);
  const { answer, error } = outcome;
  if (answer === undefined) throw error ?? asApiError(new Error("the engine gave neither an answer nor an error"));
  const { body, contentType } = surface.render(answer, request);
  return c.body(body, 200, contentType);
}
