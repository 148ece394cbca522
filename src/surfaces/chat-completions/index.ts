/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`), the first surface: its body is
 * the canonical request, so it is read as sent and its answers go back as the provider
 * gave them, JSON or SSE, with `prompt_tokens_details.cached_tokens` in their usage.
 */
import { CanonicalRequestSchema } from "../../canonical/request.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { JSON_HEADERS, SSE_HEADERS, type Surface } from "../surface.ts";
import { completionWithCachedTokens, eventsWithCachedTokens, streamWithCachedTokens } from "./cached-tokens.ts";
import { openAiErrorBody } from "./errors.ts";

export const chatCompletionsSurface: Surface = {
  parse: async (request, { maxBodyBytes }) => ({
    request: await readJsonBody(request, maxBodyBytes, CanonicalRequestSchema, { forProvider: true }),
    dropped: [],
  }),
  render(answer, parsed) {
    if (answer.kind === "json") return { body: completionWithCachedTokens(answer.text), contentType: JSON_HEADERS };
    // Only a client that asked for usage gets the usage chunk: any other stream goes on untouched.
    if (parsed.request.stream_options?.include_usage !== true) return { body: answer.body, contentType: SSE_HEADERS };
    return { body: answer.kind === "replay" ? eventsWithCachedTokens(answer.body) : streamWithCachedTokens(answer.body), contentType: SSE_HEADERS };
  },
  errorBody: openAiErrorBody,
  errorStatus: (error) => error.status,
};
