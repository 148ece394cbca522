/**
 * Anthropic's Messages API (`POST /v1/messages`): requests mapped into the canonical
 * chat request (request.ts), answers rendered as a Message (message.ts) or as its event
 * stream (stream.ts), errors in Anthropic's shape and status codes (errors.ts).
 */
import { asksOneHourCache } from "../../canonical/request.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { JSON_HEADERS, SSE_HEADERS, type Surface } from "../surface.ts";
import { canonicalStream } from "../translate-stream.ts";
import { anthropicErrorBody, anthropicStatus } from "./errors.ts";
import { toMessage } from "./message.ts";
import { MessagesRequestSchema, toCanonical } from "./request.ts";
import { PING_MS, toMessageStream } from "./stream.ts";

/** `max_tokens` is capped at MESSAGES_MAX_TOKENS as the request is read. */
export const anthropicMessagesSurface: Surface = {
  parse: async (request, limits) => toCanonical(await readJsonBody(request, limits.maxBodyBytes, MessagesRequestSchema), limits.messagesMaxTokens),
  render(answer, parsed) {
    const oneHour = asksOneHourCache(parsed.request);
    return answer.kind === "json"
      ? { body: toMessage(answer.text, oneHour), contentType: JSON_HEADERS }
      : { body: toMessageStream(canonicalStream(answer), PING_MS, oneHour), contentType: SSE_HEADERS };
  },
  errorBody: anthropicErrorBody,
  errorStatus: anthropicStatus,
};
