/**
 * The fake provider's Anthropic half (fake-upstream.ts hands it every request that names
 * an `anthropic-version`): `POST /v1/messages` and `GET /v1/models` in Anthropic's real
 * format: the Message, its event stream (`message_start`, `content_block_*`, `ping`,
 * `message_delta`, `message_stop`, `error`), usage with its cache classes, and Anthropic's
 * error bodies and statuses. It honours the fake's knobs that mean something here (a key
 * checked in `x-api-key`, errors, latency, a broken or stalled stream, a usage override) and
 * records each request as it came, for a test to compare with what its client sent. Claude on
 * Vertex AI is answered here too (`VertexCall`), in the same format.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { fakeAnswer, pieces } from "./fake-answer.ts";
import type { FakeBehaviour } from "./fake-behaviour.ts";

type Seen = { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown>; text?: string };
type Fake = { behaviour: FakeBehaviour; seen: Seen[] };
type Block = Record<string, unknown>;

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Anthropic's error type for a status, as its API names them. */
function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

function sendError(res: ServerResponse, status: number, message: string, retryAfter?: string): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "request-id": `req_fake${Date.now().toString(36)}`,
    ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }),
  });
  res.end(JSON.stringify({ type: "error", error: { type: errorType(status), message } }));
}

/**
 * Claude on Vertex AI (fake-gemini.ts sends it `…/publishers/anthropic/models/{model}:rawPredict` and
 * `:streamRawPredict` once their bearer token checks): the model is the URL's, the body must name none
 * and must name Vertex's `anthropic_version`, and a stream is asked for by the method and `stream: true` both.
 */
export type VertexCall = { model: string; stream: boolean };

/** Vertex's version of the Messages API, which its Claude calls name in the body. */
const VERTEX_VERSION = "vertex-2023-10-16";

export async function handleAnthropic(fake: Fake, req: IncomingMessage, res: ServerResponse, raw: Buffer, vertex?: VertexCall): Promise<void> {
  const b = fake.behaviour;
  const path = (req.url ?? "").split("?")[0]!;
  await sleep(b.latencyMs);
  if (vertex === undefined && b.requiredKey !== undefined && req.headers["x-api-key"] !== b.requiredKey) return sendError(res, 401, "invalid x-api-key");
  if (vertex === undefined && req.method === "GET" && path.endsWith("/v1/models")) {
    fake.seen.push({ path, headers: req.headers, body: {} });
    return listModels(fake, res);
  }
  if (req.method !== "POST" || (vertex === undefined && !path.endsWith("/v1/messages"))) return sendError(res, 404, `Not found: ${req.method} ${path}`);
  let body: Record<string, unknown>;
  const text = raw.toString("utf8");
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return sendError(res, 400, "There was an issue with your request body: it is not valid JSON");
  }
  fake.seen.push({ path, headers: req.headers, body, text });
  if (fake.seen.length > 100) fake.seen.shift();
  if (vertex !== undefined) {
    // Vertex's own words for these: the model is the URL's, the version the body's, the method the stream's.
    if ("model" in body) return sendError(res, 400, "model: Extra inputs are not permitted");
    if (body.anthropic_version !== VERTEX_VERSION) return sendError(res, 400, `anthropic_version: Input should be '${VERTEX_VERSION}'`);
    if ((body.stream === true) !== vertex.stream) return sendError(res, 400, `stream: must be ${vertex.stream} for this method`);
  }
  const model = vertex?.model ?? (typeof body.model === "string" ? body.model : "claude-fake");
  if (typeof body.max_tokens !== "number") return sendError(res, 400, "max_tokens: Field required");
  if (
    b.errorStatus !== undefined &&
    (b.failModels === undefined || b.failModels.includes(model)) &&
    (b.failFirst === undefined || fake.behaviour.failFirst!-- > 0)
  ) {
    return sendError(res, b.errorStatus, b.errorMessage ?? `Fake Anthropic error ${b.errorStatus}`, b.retryAfter);
  }
  if (b.errorIn200) {
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(JSON.stringify({ type: "error", error: { type: "api_error", message: b.errorMessage ?? "Fake Anthropic error in a 200" } }));
  }
  const limit = body.max_tokens;
  const written = Math.min(b.completionTokens, limit);
  const words = Array.from({ length: written }, (_, i) => (i === 0 ? "Fake" : ` token${i}`));
  const answer = fakeAnswer(asChat(body), words);
  // Thinking asked (`enabled` with a budget, or `adaptive`): a block first, its text left out where the display is `omitted`.
  const asked = body.thinking as { type?: string; display?: string } | undefined;
  const thinking = asked?.type === "enabled" || asked?.type === "adaptive" ? (asked.display === "omitted" ? "" : "Let me think about this. ") : undefined;
  const content: Block[] = [];
  if (thinking !== undefined) content.push({ type: "thinking", thinking, signature: signatureOf(thinking) });
  if (answer.kind === "tool_call")
    content.push({ type: "tool_use", id: `toolu_fake${Date.now().toString(36)}`, name: answer.name, input: JSON.parse(answer.arguments) });
  else content.push({ type: "text", text: answer.content });
  const stop = answer.kind === "tool_call" ? "tool_use" : written < b.completionTokens ? "max_tokens" : "end_turn";
  const inputTokens = b.promptTokens ?? Math.ceil(JSON.stringify([body.system ?? "", body.messages ?? "", body.tools ?? ""]).length / 4);
  const usage = (b.usage as Record<string, unknown> | undefined) ?? {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: written + (thinking === undefined ? 0 : 6),
    service_tier: "standard",
  };
  const id = `msg_fake${Date.now().toString(36)}`;

  if (body.stream !== true) {
    res.writeHead(200, { "content-type": "application/json", "request-id": `req_${id}` });
    if (b.malformed) return void res.end(`{"id":"${id}","type":"message","role":"assistant","content":[{"type":"te`);
    res.end(JSON.stringify({ id, type: "message", role: "assistant", model, content, stop_reason: stop, stop_sequence: null, usage }));
    return;
  }

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": `req_${id}` });
  res.flushHeaders();
  const send = (type: string, data: Record<string, unknown>): void => void res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  await sleep(b.firstTokenMs);
  if (b.malformed) return void res.end('event: message_start\ndata: {"type":"message_start","message":{"id\n\n');
  const { output_tokens: _, ...startUsage } = usage;
  send("message_start", {
    message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { ...startUsage, output_tokens: 1 } },
  });
  send("ping", {});
  if (b.streamErrorAfterChunks === 0) {
    // Before any content block: as Anthropic fails a stream it could not begin.
    send("error", { error: { type: "overloaded_error", message: "Overloaded" } });
    return void res.end();
  }
  let deltas = 0;
  /** Sends one content delta, unless a knob ends the stream here (then false). */
  const delta = async (index: number, payload: Block): Promise<boolean> => {
    if (deltas === b.breakAfterChunks) {
      res.socket?.end();
      return false;
    }
    if (deltas === b.stallAfterChunks) return false; // keep the socket open, send nothing more
    if (deltas === b.streamErrorAfterChunks) {
      send("error", { error: { type: "overloaded_error", message: b.errorMessage ?? "Overloaded" } });
      res.end();
      return false;
    }
    if (deltas > 0) await sleep(b.tokenIntervalMs);
    deltas += 1;
    send("content_block_delta", { index, delta: payload });
    return true;
  };
  for (const [index, block] of content.entries()) {
    if (block.type === "thinking") {
      send("content_block_start", { index, content_block: { type: "thinking", thinking: "" } });
      if (block.thinking !== "" && !(await delta(index, { type: "thinking_delta", thinking: block.thinking }))) return;
      send("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } });
    } else if (block.type === "tool_use") {
      send("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      for (const part of pieces(JSON.stringify(block.input))) if (!(await delta(index, { type: "input_json_delta", partial_json: part }))) return;
    } else {
      send("content_block_start", { index, content_block: { type: "text", text: "" } });
      const parts = answer.kind === "text" && answer.content === words.join("") ? words : pieces(String(block.text));
      for (const part of parts) if (!(await delta(index, { type: "text_delta", text: part }))) return;
    }
    send("content_block_stop", { index });
  }
  if (b.breakAfterChunks !== undefined && b.breakAfterChunks >= deltas) return void res.socket?.end();
  send("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  send("message_stop", {});
  res.end();
}

/** A stand-in for Anthropic's thinking signature: opaque, and the same for the same thinking. */
export const signatureOf = (thinking: string): string => Buffer.from(`fake-signature:${thinking}`).toString("base64");

/** `GET /v1/models`, as Anthropic lists them. */
function listModels(fake: Fake, res: ServerResponse): void {
  const b = fake.behaviour;
  if (b.errorStatus !== undefined && b.failModels === undefined && b.failFirst === undefined) {
    sendError(res, b.errorStatus, b.errorMessage ?? `Fake Anthropic error ${b.errorStatus}`, b.retryAfter);
    return;
  }
  const data = ["claude-opus-5-5", "claude-sonnet-5", "claude-haiku-4-5"].map((id) => ({
    type: "model",
    id,
    display_name: id,
    created_at: "2026-01-01T00:00:00Z",
  }));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ data, has_more: false, first_id: data[0]!.id, last_id: data.at(-1)!.id }));
}

/** The Messages body as the chat body fake-answer.ts reads: its tools, tool choice, and whether the last turn is a tool's result. */
function asChat(body: Record<string, unknown>): Record<string, unknown> {
  const tools = ((body.tools as { name?: string; input_schema?: unknown }[] | undefined) ?? []).map((tool) => ({
    type: "function",
    function: { name: tool.name, parameters: tool.input_schema },
  }));
  const choice = body.tool_choice as { type?: string; name?: string } | undefined;
  const toolChoice = choice?.type === "any" ? "required" : choice?.type === "tool" ? { function: { name: choice.name } } : choice?.type;
  const messages = ((body.messages as { role?: string; content?: unknown }[] | undefined) ?? []).map((message) => {
    const blocks = Array.isArray(message.content) ? (message.content as Block[]) : [];
    if (message.role === "user" && blocks.length > 0 && blocks.every((block) => block.type === "tool_result")) return { role: "tool", content: "" };
    return { role: message.role, content: blocks.length > 0 ? blocks.filter((block) => block.type === "text") : message.content };
  });
  return { tools, tool_choice: toolChoice, messages };
}
