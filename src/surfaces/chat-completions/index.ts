/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`), the first surface: its body is
 * the canonical request, so it is read as sent and its answers go back as the provider
 * gave them, JSON or SSE.
 */
import { CanonicalRequestSchema } from "../../canonical/request.ts";
import { readJsonBody } from "../../http/json-body.ts";
import type { Surface } from "../surface.ts";
import { openAiErrorBody } from "./errors.ts";

const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const JSON_TYPE = { "content-type": "application/json" };

export const chatCompletionsSurface: Surface = {
  parse: async (request, { maxBodyBytes }) => ({ request: await readJsonBody(request, maxBodyBytes, CanonicalRequestSchema), dropped: [] }),
  render: (answer) => (answer.kind === "json" ? { body: answer.text, contentType: JSON_TYPE } : { body: answer.body, contentType: SSE }),
  errorBody: openAiErrorBody,
  errorStatus: (error) => error.status,
};
