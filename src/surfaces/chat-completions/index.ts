/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`), the first surface: its body is
 * the canonical request, so it is read as sent and its answers go back as the provider
 * gave them, JSON or SSE.
 */
import { CanonicalRequestSchema } from "../../canonical/request.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { JSON_HEADERS, SSE_HEADERS, type Surface } from "../surface.ts";
import { openAiErrorBody } from "./errors.ts";

export const chatCompletionsSurface: Surface = {
  parse: async (request, { maxBodyBytes }) => ({ request: await readJsonBody(request, maxBodyBytes, CanonicalRequestSchema), dropped: [] }),
  render: (answer) => (answer.kind === "json" ? { body: answer.text, contentType: JSON_HEADERS } : { body: answer.body, contentType: SSE_HEADERS }),
  errorBody: openAiErrorBody,
  errorStatus: (error) => error.status,
};
