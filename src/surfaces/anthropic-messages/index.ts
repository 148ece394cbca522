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
import { MessagesRequestSchema, toCanonical } from "./request.ts";
import { PING_MS, toMessageStream } from "./stream.ts";

/**
 * `max_tokens` is capped at MESSAGES_MAX_TOKENS as the request is read. The body as read
 * is kept (`native`): a provider that speaks Messages is sent it as it is, and its answer,
 * native too, goes back to the client untouched.
 */
export const anthropicMessagesSurface: Surface = {
  async parse(request, limits) {
    const body = await readJsonBody(request, limits.maxBodyBytes, MessagesRequestSchema);
    const mapped = toCanonical(body, limits.messagesMaxTokens);
    const native = { format: "anthropic-messages" as const, body, beta: request.headers.get("anthropic-beta") ?? undefined };
    // Sent as it is, the request keeps all but the cap on its max_tokens.
    return { ...mapped, native, nativeDropped: mapped.dropped.filter((note) => note.startsWith("max_tokens above")) };
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
