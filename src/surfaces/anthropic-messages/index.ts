/**
 * Anthropic's Messages API (`POST /v1/messages`): requests mapped into the canonical
 * chat request (request.ts), answers rendered as a Message (message.ts) or as its event
 * stream (stream.ts), errors in Anthropic's shape and status codes (errors.ts).
 */
import { readJsonBody } from "../../http/json-body.ts";
import type { Surface } from "../surface.ts";
import { canonicalStream } from "../translate-stream.ts";
import { anthropicErrorBody, anthropicStatus } from "./errors.ts";
import { toMessage } from "./message.ts";
import { MessagesRequestSchema, toCanonical } from "./request.ts";
import { toMessageStream } from "./stream.ts";

const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const JSON_TYPE = { "content-type": "application/json" };

/** `max_tokens` is capped at MESSAGES_MAX_TOKENS as the request is read. */
export const anthropicMessagesSurface: Surface = {
  parse: async (request, limits) => toCanonical(await readJsonBody(request, limits.maxBodyBytes, MessagesRequestSchema), limits.messagesMaxTokens),
  render: (answer) =>
    answer.kind === "json" ? { body: toMessage(answer.text), contentType: JSON_TYPE } : { body: toMessageStream(canonicalStream(answer)), contentType: SSE },
  errorBody: anthropicErrorBody,
  errorStatus: anthropicStatus,
};
