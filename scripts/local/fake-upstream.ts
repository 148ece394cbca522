/**
 * A fake OpenAI-compatible provider on loopback for tests and benchmarks. It speaks
 * the real wire format (JSON completions, SSE chunks, `usage`, OpenAI error bodies)
 * and can be told to be slow, to fail, or to break its stream. Google's paths (Gemini,
 * Vertex AI, the OAuth token endpoint) are fake-gemini.ts's, Bedrock's fake-bedrock.ts's,
 * Azure's fake-azure.ts's; a request that names an `anthropic-version` is Anthropic's
 * (fake-anthropic.ts): point ANTHROPIC_BASE_URL at the fake's origin (`url` without its `/v1`).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type FakeAnswer, fakeAnswer, pieces } from "./fake-answer.ts";
import { handleAnthropic } from "./fake-anthropic.ts";
import { type AzureCall, azureAnswerFilters, azurePromptFilterChunk, azureRequest } from "./fake-azure.ts";
import { handleBedrock } from "./fake-bedrock.ts";
import { DEFAULT_BEHAVIOUR, type FakeBehaviour } from "./fake-behaviour.ts";
import { isGooglePath, serveGoogle } from "./fake-gemini.ts";

/** `azure`: where an Azure OpenAI call went (`/openai/...` paths), the body as served (its model named). */
export { DEFAULT_BEHAVIOUR, type FakeBehaviour } from "./fake-behaviour.ts";

/** `text`: the body as it arrived, where the fake reads JSON (OpenAI's and Anthropic's formats). */
export type SeenRequest = { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown>; text?: string; azure?: AzureCall };

export type FakeUpstream = {
  /** Base URL to configure as a provider's, ending in `/v1`. */
  url: string;
  /** The same server as an Azure OpenAI resource's endpoint (AZURE_OPENAI_ENDPOINT). */
  azureEndpoint: string;
  behaviour: FakeBehaviour;
  /** The last requests received, newest last (at most 100). */
  seen: SeenRequest[];
  close(): Promise<void>;
};

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Starts a fake provider on 127.0.0.1; `port: 0` picks a free port. */
export async function startFakeUpstream(options: Partial<FakeBehaviour> & { port?: number } = {}): Promise<FakeUpstream> {
  const { port = 0, ...behaviour } = options;
  const fake: FakeUpstream = {
    url: "",
    azureEndpoint: "",
    behaviour: { ...DEFAULT_BEHAVIOUR, ...behaviour },
    seen: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    handle(fake, req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  fake.azureEndpoint = fake.url.slice(0, -"/v1".length);
  const close = fake.close;
  fake.close = () => {
    server.closeAllConnections();
    return close();
  };
  return fake;
}

async function handle(fake: FakeUpstream, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (fake.behaviour.down) return void req.socket.destroy();
  if (req.headers["anthropic-version"] !== undefined) return handleAnthropic(fake, req, res, Buffer.concat(chunks));
  if (req.url?.startsWith("/model/")) return handleBedrock(fake, req, res, Buffer.concat(chunks));
  if (isGooglePath(req.url)) return serveGoogle(fake, req, res, Buffer.concat(chunks));
  const raw = Buffer.concat(chunks).toString("utf8");
  let path = req.url ?? "";
  let azure: AzureCall | undefined;
  let body: Record<string, unknown> = {};
  if (req.method === "POST") {
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, "Body is not JSON", "invalid_json");
    }
  }
  // Azure OpenAI's paths, checked as Azure checks them (fake-azure.ts), then served as OpenAI's.
  if (path.startsWith("/openai/")) {
    const routed = azureRequest(req, res, body, fake.behaviour);
    if (routed === undefined) return;
    ({ path, body, call: azure } = routed);
  }
  if (req.method === "GET" && path.endsWith("/models")) return listModels(fake, res);
  const embeddings = path.endsWith("/embeddings");
  if (req.method !== "POST" || !(embeddings || path.endsWith("/chat/completions"))) return sendError(res, 404, "Unknown route", "not_found");
  fake.seen.push({ path: req.url ?? "", headers: req.headers, body, text: raw, ...(azure === undefined ? {} : { azure }) });
  if (fake.seen.length > 100) fake.seen.shift();
  const model = typeof body.model === "string" ? body.model : "fake-model";
  const b: FakeBehaviour = { ...fake.behaviour, ...fake.behaviour.perModel[model] };

  await sleep(b.latencyMs);
  const bearer = req.headers.authorization?.replace(/^Bearer /, "");
  if (azure === undefined && b.refusedKeys !== undefined && bearer !== undefined && b.refusedKeys.includes(bearer)) {
    // As a careless provider does: the refused key in its own error message.
    return sendError(res, 401, `Incorrect API key provided: ${bearer}. You can find your API key at https://example.invalid/keys.`, "invalid_api_key");
  }
  if (azure === undefined && b.requiredKey !== undefined && req.headers.authorization !== `Bearer ${b.requiredKey}`) {
    return sendError(res, 401, "Incorrect API key provided", "invalid_api_key");
  }
  if (
    b.errorStatus !== undefined &&
    b.failRate === 0 &&
    (b.failModels === undefined || b.failModels.includes(model)) &&
    (b.failFirst === undefined || fake.behaviour.failFirst!-- > 0)
  ) {
    return sendError(res, b.errorStatus, b.errorMessage ?? `Fake upstream error ${b.errorStatus}`, "fake_error", b.retryAfter);
  }
  const text = JSON.stringify(body.messages ?? body.input ?? "");
  if (b.hangPrompts?.some((poison) => text.includes(poison))) await sleep(b.hangMs);
  if (b.failPrompts?.some((poison) => text.includes(poison))) {
    return sendError(res, 500, b.errorMessage ?? "Fake upstream error: the provider failed on this content", "fake_error");
  }
  if (b.failRate > 0 && Math.random() < b.failRate) {
    return sendError(res, b.errorStatus ?? 500, b.errorMessage ?? "Fake upstream error (random)", "fake_error", b.retryAfter);
  }
  if (b.errorIn200) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: b.errorMessage ?? "Fake upstream error in a 200", code: 500 }, choices: [] }));
    return;
  }
  if (embeddings) return sendEmbeddings(res, body, model, b);

  // As a provider does, it writes no more than the request's limit, and says it stopped there.
  const limit = Number(body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY);
  const written = Math.min(b.completionTokens, limit);
  const usage = {
    prompt_tokens: b.promptTokens ?? Math.ceil(JSON.stringify(body.messages ?? "").length / 4),
    completion_tokens: written,
    total_tokens: 0,
  };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const reported = b.usage ?? usage;
  const id = `chatcmpl-fake${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const words = Array.from({ length: written }, (_, i) => (i === 0 ? "Fake" : ` token${i}`));
  const answer = fakeAnswer(body, words);
  const finish = answer.kind === "tool_call" ? "tool_calls" : written < b.completionTokens ? "length" : "stop";

  if (body.stream !== true) {
    if (b.malformed) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"id":"${id}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis`);
      return;
    }
    const calls = b.toolCalls ?? [
      {
        id: answer.kind === "tool_call" ? answer.id : "",
        type: "function",
        function: { name: answer.kind === "tool_call" ? answer.name : "", arguments: answer.kind === "tool_call" ? answer.arguments : "" },
      },
    ];
    const message =
      answer.kind === "tool_call" || b.toolCalls !== undefined
        ? { role: "assistant", content: null, tool_calls: calls }
        : { role: "assistant", content: answer.content };
    const completion = { id, object: "chat.completion", created, model, choices: [{ index: 0, message, finish_reason: finish }], usage: reported };
    if (azure !== undefined) Object.assign(completion, azureAnswerFilters(completion.choices));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(completion));
    return;
  }

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  const chunk = (delta: object, finish: string | null): string =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  // Azure's stream opens with its prompt's filter results, a chunk with no choices.
  if (azure !== undefined) res.write(`data: ${JSON.stringify(azurePromptFilterChunk())}\n\n`);
  await sleep(b.firstTokenMs);
  if (b.malformed) return void res.end(`data: {"id":"${id}","choices":[{"delta":{"content":"cut\n\n`);
  const deltas = streamedDeltas(answer, words);
  if (b.toolCalls !== undefined) deltas.splice(1, 0, { tool_calls: b.toolCalls });
  for (const [i, delta] of deltas.entries()) {
    if (i === b.breakAfterChunks) return breakOff(res);
    if (i === b.stallAfterChunks) return; // keep the socket open, send nothing more
    if (i > 0) await sleep(b.tokenIntervalMs);
    res.write(chunk(delta, null));
  }
  if (b.breakAfterChunks !== undefined && b.breakAfterChunks >= deltas.length) return breakOff(res);
  res.write(chunk({}, finish));
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) {
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: reported })}\n\n`);
  }
  res.end(b.omitDone ? undefined : "data: [DONE]\n\n");
}

/**
 * `POST /embeddings`, as OpenAI answers it: one vector per input, the same for the same
 * model, input and length (drawn from a hash of them), of unit length, as floats or base64.
 */
function sendEmbeddings(res: ServerResponse, body: Record<string, unknown>, model: string, b: FakeBehaviour): void {
  const inputs = typeof body.input === "string" || (Array.isArray(body.input) && typeof body.input[0] === "number") ? [body.input] : (body.input as unknown[]);
  if (!Array.isArray(inputs) || inputs.length === 0) return void sendError(res, 400, "'input' is required", "invalid_value");
  if (inputs.length > b.embeddingBatchLimit) {
    return void sendError(res, 400, `'input' holds ${inputs.length} items; at most ${b.embeddingBatchLimit} are allowed`, "invalid_value");
  }
  // OpenAI's lengths; a test's own model says its length at the end of its id (`fake/embed-64`).
  const dimensions = typeof body.dimensions === "number" ? body.dimensions : Number(/-(\d+)$/.exec(model)?.[1] ?? (model.includes("large") ? 3_072 : 1_536));
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((input, index) => {
    const vector = fakeVector(`${model}\n${dimensions}\n${JSON.stringify(input)}`, dimensions);
    return { object: "embedding", index, embedding: base64 ? Buffer.from(vector.buffer).toString("base64") : Array.from(vector) };
  });
  if (b.malformed) {
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(JSON.stringify({ object: "list", data: data.slice(1), model }));
  }
  const tokens = inputs.reduce<number>((sum, input) => sum + (typeof input === "string" ? Math.ceil(input.length / 4) : (input as unknown[]).length), 0);
  const usage = b.usage ?? { prompt_tokens: b.promptTokens ?? tokens, total_tokens: b.promptTokens ?? tokens };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ object: "list", data, model, usage }));
}

/** A unit vector drawn from the seed's SHA-256 (xorshift from there): the same seed, the same vector. */
function fakeVector(seed: string, dimensions: number): Float32Array {
  const digest = createHash("sha256").update(seed).digest();
  let state = digest.readUInt32LE(0) || 1;
  const values = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = (state >>> 0) / 0xffffffff - 0.5;
    norm += values[i]! * values[i]!;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) values[i] = values[i]! * scale;
  return values;
}

/** `GET /models`, as OpenAI lists them: what health probes call; fails like the provider when every request fails. */
function listModels(fake: FakeUpstream, res: ServerResponse): void {
  const b = fake.behaviour;
  if (b.errorStatus !== undefined && b.failModels === undefined && b.failFirst === undefined) {
    sendError(res, b.errorStatus, b.errorMessage ?? `Fake upstream error ${b.errorStatus}`, "fake_error", b.retryAfter);
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model", created: 0, owned_by: "fake" }] }));
}

/** The stream's deltas: the words of a text answer (JSON split the same way), or a tool call whose arguments arrive in pieces. */
function streamedDeltas(answer: FakeAnswer, words: string[]): object[] {
  if (answer.kind === "tool_call") {
    const head = {
      role: "assistant",
      content: null,
      tool_calls: [{ index: 0, id: answer.id, type: "function", function: { name: answer.name, arguments: "" } }],
    };
    return [head, ...pieces(answer.arguments).map((part) => ({ tool_calls: [{ index: 0, function: { arguments: part } }] }))];
  }
  const parts = answer.content === words.join("") ? words : pieces(answer.content);
  return parts.map((part, i) => (i === 0 ? { role: "assistant", content: part } : { content: part }));
}

/** Closes the connection mid-response, after what was written is flushed: the client sees an unfinished chunked body. */
function breakOff(res: ServerResponse): void {
  res.socket?.end();
}

function sendError(res: ServerResponse, status: number, message: string, code: string, retryAfter?: string): void {
  res.writeHead(status, { "content-type": "application/json", ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }) });
  res.end(JSON.stringify({ error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code } }));
}
