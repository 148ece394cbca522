/**
 * Anthropic's Messages API (`POST /v1/messages`): requests mapped into the canonical
 * chat request (request.ts), answers rendered as a Message (message.ts) or as its event
 * stream (stream.ts), errors in Anthropic's shape and status codes (errors.ts); a native
 * answer (Anthropic's own, to a request sent through as it was) passes through as it came.
 */
import { asksOneHourCache } from "../../canonical/request.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { JSON_HEADERS, SSE_HEADERS, type Surface } from "../surface.ts";
import { canonicalStream } from "../translate-stream.ts";
import { anthropicErrorBody, anthropicStatus } from "./errors.ts";
import { toMessage } from "./message.ts";
import { type MessagesRequest, MessagesRequestSchema, toCanonical } from "./request.ts";
import { PING_MS, toMessageStream } from "./stream.ts";

/**
 * `max_tokens` is capped at MESSAGES_MAX_TOKENS as the request is read. The body as read
 * is kept (`native`): a provider that speaks Messages is sent it as it is, and its answer,
 * native too, goes back to the client untouched.
 */
export const anthropicMessagesSurface: Surface = {
  async parse(request, limits) {
    const body = await readJsonBody(request, limits.maxBodyBytes, MessagesRequestSchema, { forProvider: true });
    const mapped = toCanonical(body, limits.messagesMaxTokens);
    const passed = passedOn(body, request.headers.get("anthropic-beta") ?? undefined);
    const native = { format: "anthropic-messages" as const, body: passed.body, beta: passed.beta };
    // Sent as it is, the request keeps all but the cap on its max_tokens and what would change its price.
    return { ...mapped, native, nativeDropped: [...mapped.dropped.filter((note) => note.startsWith("max_tokens above")), ...passed.dropped] };
  },
  render(answer, parsed) {
    if (answer.kind === "json" && answer.native === true) return { body: answer.text, contentType: JSON_HEADERS };
    if (answer.kind === "stream" && answer.native === true) return { body: answer.body, contentType: SSE_HEADERS };
    const oneHour = asksOneHourCache(parsed.request);
    return answer.kind === "json"
      ? { body: toMessage(answer.text, oneHour), contentType: JSON_HEADERS }
      : { body: toMessageStream(canonicalStream(answer), PING_MS, oneHour), contentType: SSE_HEADERS };
  },
  errorBody: anthropicErrorBody,
  errorStatus: anthropicStatus,
};

/**
 * Top-level fields passed on to Anthropic as the client sent them: what the Messages
 * request is (request.ts reads them), and what changes the answer but not its price
 * (context editing, structured output, effort). Anything else is left out and named:
 * a field may change what a token costs (`speed: "fast"`, `service_tier`,
 * `inference_geo`), which the router, charging the catalog's list price, would not see.
 */
const PASSED_ON = new Set([...Object.keys(MessagesRequestSchema.shape), "context_management", "output_config", "output_format"]);
/** Betas that bill a token at another price than the list's (fast mode's premium). */
const PRICED_BETA = /^fast-mode/;

function passedOn(body: MessagesRequest, beta: string | undefined): { body: Record<string, unknown>; beta: string | undefined; dropped: string[] } {
  const dropped: string[] = [];
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (PASSED_ON.has(field)) kept[field] = value;
    else dropped.push(field);
  }
  const betas = (beta ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const priced = betas.filter((name) => PRICED_BETA.test(name));
  dropped.push(...priced.map((name) => `anthropic-beta ${name}`));
  const rest = betas.filter((name) => !PRICED_BETA.test(name));
  return { body: kept, beta: rest.length === 0 ? undefined : rest.join(","), dropped };
}
