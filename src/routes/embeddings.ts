/**
 * POST /v1/embeddings, in OpenAI's format: read, run through the embeddings engine, and
 * answered with the vectors as floats or as base64, as the client asked.
 */
import { base64ToVector, EmbeddingRequestSchema } from "../canonical/embeddings.ts";
import { runEmbeddings } from "../engine/embeddings.ts";
import { outcomeHeaders } from "../engine/headers.ts";
import { asApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { JSON_HEADERS } from "../surfaces/surface.ts";
import { engineInput, type GenerationContext } from "./chat.ts";

export async function embeddings(c: GenerationContext): Promise<Response> {
  const services = c.get("services");
  const request = await readJsonBody(c.req.raw, services.config.maxBodyBytes, EmbeddingRequestSchema);
  const outcome = await runEmbeddings(services, { request, ...engineInput(c) });
  c.set("outcome", outcome);
  for (const [name, value] of Object.entries(await outcomeHeaders(outcome))) c.header(name, value);
  const { answer, error } = outcome;
  if (answer?.kind !== "json") throw error ?? asApiError(new Error("the embeddings engine gave neither an answer nor an error"));
  return c.body(request.encoding_format === "base64" ? answer.text : withFloats(answer.text), 200, JSON_HEADERS);
}

/** The answer (kept with base64 vectors) with each vector as its floats, OpenAI's default `encoding_format`. */
function withFloats(text: string): string {
  const answer = JSON.parse(text) as { data: { embedding: string | number[] }[] };
  for (const item of answer.data) item.embedding = base64ToVector(item.embedding as string) ?? [];
  return JSON.stringify(answer);
}
