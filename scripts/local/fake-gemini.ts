/**
 * The fake provider's Google side (scripts/local/fake-upstream.ts sends it these paths):
 * Google AI Studio's Gemini API (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
 * `GET /v1beta/models`, the key in `x-goog-api-key`), Vertex AI's Gemini
 * (`/v1/projects/{p}/locations/{r}/publishers/google/models/{model}:…`, a bearer token this fake's
 * token endpoint issued: fake-google-token.ts) and that endpoint (`POST /oauth2/token`). Vertex's Claude
 * (`…/publishers/anthropic/models/{model}:rawPredict`, `:streamRawPredict`) is checked for the same token here
 * and answered in Anthropic's format by fake-anthropic.ts.
 * Bodies, streams and errors are Google's own formats; a field Gemini does not know is refused as
 * Gemini refuses it.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fakeAnswer, pieces } from "./fake-answer.ts";
import { handleAnthropic } from "./fake-anthropic.ts";
import type { FakeBehaviour } from "./fake-behaviour.ts";
import { bearerValid, exchangeToken, TOKEN_PATH } from "./fake-google-token.ts";

type GoogleFake = {
  behaviour: FakeBehaviour;
  seen: { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> }[];
};

type Content = { role?: string; parts?: Part[] };
type Part = {
  text?: string;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: unknown;
  functionCall?: { name?: string; args?: unknown };
  functionResponse?: { name?: string; response?: unknown };
  thoughtSignature?: string;
};

/** GenerateContentRequest's fields, and generationConfig's, that the router may send: any other is refused, as Gemini refuses it. */
const REQUEST_FIELDS = new Set(["contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent", "labels"]);
const GENERATION_FIELDS = new Set([
  "maxOutputTokens",
  "temperature",
  "topP",
  "topK",
  "stopSequences",
  "candidateCount",
  "presencePenalty",
  "frequencyPenalty",
  "seed",
  "responseLogprobs",
  "logprobs",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "thinkingConfig",
]);
const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};
/** Whether a path is Google's: the fake's generic handler sends it here. */
export const isGooglePath = (url: string | undefined): boolean =>
  url !== undefined && (url.startsWith("/v1beta/models") || url.startsWith("/v1/projects/") || url.startsWith("/v1beta1/publishers/") || url === TOKEN_PATH);

export async function serveGoogle(fake: GoogleFake, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fake");
  if (url.pathname === TOKEN_PATH) return exchangeToken(fake, req, res, raw.toString("utf8"));
  const vertex = url.pathname.startsWith("/v1/") || url.pathname.startsWith("/v1beta1/");
  if (vertex && !bearerValid(req)) {
    return googleError(
      res,
      401,
      "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    );
  }
  const b0 = fake.behaviour;
  if (!vertex && b0.requiredKey !== undefined && req.headers["x-goog-api-key"] !== b0.requiredKey) {
    return googleError(res, 400, "API key not valid. Please pass a valid API key.", undefined, [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" },
    ]);
  }
  if (req.method === "GET") return listModels(res, url.pathname, b0);
  // Claude on Vertex: Anthropic's Messages API behind Vertex's URL and token (fake-anthropic.ts answers it).
  const claude = /\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(url.pathname);
  if (claude !== null) return handleAnthropic(fake, req, res, raw, { model: decodeURIComponent(claude[1]!), stream: claude[2] === "streamRawPredict" });
  const call = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(url.pathname);
  if (req.method !== "POST" || call === null) return googleError(res, 404, `Method not found: ${url.pathname}`);
  const model = decodeURIComponent(call[1]!);
  const stream = call[2] === "streamGenerateContent";
  if (stream && url.searchParams.get("alt") !== "sse") return googleError(res, 400, "the fake streams only as SSE (?alt=sse)");
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
  } catch {
    return googleError(res, 400, "Invalid JSON payload received.");
  }
  fake.seen.push({ path: req.url ?? "", headers: req.headers, body });
  if (fake.seen.length > 100) fake.seen.shift();
  const b: FakeBehaviour = { ...b0, ...b0.perModel[model] };
  await sleep(b.latencyMs);
  if (
    b.errorStatus !== undefined &&
    (b.failModels === undefined || b.failModels.includes(model)) &&
    (b.failFirst === undefined || fake.behaviour.failFirst!-- > 0)
  ) {
    return googleError(res, b.errorStatus, b.errorMessage ?? `Fake Gemini error ${b.errorStatus}`, b.retryAfter);
  }
  const refused = refusal(body, model);
  if (refused !== undefined) return googleError(res, 400, refused);

  const contents = body.contents as Content[];
  const generation = (body.generationConfig ?? {}) as Record<string, unknown>;
  const limit = typeof generation.maxOutputTokens === "number" ? generation.maxOutputTokens : Number.POSITIVE_INFINITY;
  const written = Math.min(b.completionTokens, limit);
  const words = Array.from({ length: written }, (_, i) => (i === 0 ? "Fake" : ` token${i}`));
  const answer = fakeAnswer(openAiShape(body), words);
  const promptTokens = b.promptTokens ?? Math.ceil(JSON.stringify(contents).length / 4);
  const usageAfter = (candidates: number): unknown =>
    b.usage ?? { promptTokenCount: promptTokens, candidatesTokenCount: candidates, totalTokenCount: promptTokens + candidates };
  const responseId = randomBytes(12).toString("base64url");
  const response = (parts: Part[], finishReason: string | undefined, candidates: number): string =>
    JSON.stringify({
      candidates: [{ content: { role: "model", parts }, ...(finishReason === undefined ? {} : { finishReason }), index: 0 }],
      usageMetadata: usageAfter(candidates),
      modelVersion: model,
      responseId,
    });
  const called = answer.kind === "tool_call";
  const finish = called ? "STOP" : written < b.completionTokens ? "MAX_TOKENS" : "STOP";
  const callPart = (): Part => ({
    functionCall: { name: called ? answer.name : "", args: called ? JSON.parse(answer.arguments) : {} },
    thoughtSignature: Buffer.from(`signed by the fake for ${model}`).toString("base64"),
  });

  if (!stream) {
    res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
    if (b.malformed) return void res.end('{"candidates":[{"content":{"role":"mo');
    return void res.end(response(called ? [callPart()] : [{ text: answer.content }], finish, written));
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  await sleep(b.firstTokenMs);
  if (b.malformed) return void res.end('data: {"candidates":[{"content":\r\n\r\n');
  const texts = called ? [] : answer.content === words.join("") ? words : pieces(answer.content);
  const events: string[] = called ? [response([callPart()], finish, written)] : [];
  for (const [i, text] of texts.entries()) events.push(response([{ text }], i === texts.length - 1 ? finish : undefined, i + 1));
  if (events.length === 0) events.push(response([{ text: "" }], finish, 0));
  for (const [i, event] of events.entries()) {
    if (i === b.breakAfterChunks) return void res.socket?.end();
    if (i === b.stallAfterChunks) return;
    if (i > 0) await sleep(b.tokenIntervalMs);
    res.write(`data: ${event}\r\n\r\n`);
  }
  if (b.breakAfterChunks !== undefined && b.breakAfterChunks >= events.length) return void res.socket?.end();
  res.end();
}

/**
 * Why Gemini would refuse the body, as it says it: an unknown field, a role it does not
 * know, a part without data, or (Gemini 3) a model's function call sent back without its signature.
 */
function refusal(body: Record<string, unknown>, model: string): string | undefined {
  for (const name of Object.keys(body)) if (!REQUEST_FIELDS.has(name)) return `Invalid JSON payload received. Unknown name "${name}": Cannot find field.`;
  for (const name of Object.keys((body.generationConfig ?? {}) as object)) {
    if (!GENERATION_FIELDS.has(name)) return `Invalid JSON payload received. Unknown name "${name}" at 'generation_config': Cannot find field.`;
  }
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return "* GenerateContentRequest.contents: contents is not specified";
  for (const [i, content] of (contents as Content[]).entries()) {
    if (content.role !== "user" && content.role !== "model") return `Please use a valid role: user, model. (contents[${i}].role: ${String(content.role)})`;
    if (!Array.isArray(content.parts) || content.parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    for (const part of content.parts) {
      if (Object.keys(part).filter((key) => key !== "thoughtSignature" && key !== "thought").length !== 1)
        return `contents[${i}]: a part must hold exactly one kind of data`;
      if (part.functionCall !== undefined && content.role === "model" && model.startsWith("gemini-3") && part.thoughtSignature === undefined) {
        return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${part.functionCall.name}\` , position ${i + 1}.`;
      }
    }
  }
  return undefined;
}

/** The Gemini body as the OpenAI-shaped one fakeAnswer reads: the same tools, choice, format and turns. */
function openAiShape(body: Record<string, unknown>): Record<string, unknown> {
  const declarations = ((body.tools ?? []) as { functionDeclarations?: { name: string; parametersJsonSchema?: unknown; parameters?: unknown }[] }[]).flatMap(
    (tool) => tool.functionDeclarations ?? [],
  );
  const calling = (body.toolConfig as { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } } | undefined)?.functionCallingConfig;
  const toolChoice =
    calling?.mode === "NONE"
      ? "none"
      : calling?.mode === "ANY"
        ? calling.allowedFunctionNames?.length === 1
          ? { type: "function", function: { name: calling.allowedFunctionNames[0] } }
          : "required"
        : undefined;
  const generation = (body.generationConfig ?? {}) as { responseMimeType?: string; responseJsonSchema?: unknown; responseSchema?: unknown };
  const schema = generation.responseJsonSchema ?? generation.responseSchema;
  const format =
    generation.responseMimeType === "application/json"
      ? schema === undefined
        ? { type: "json_object" }
        : { type: "json_schema", json_schema: { name: "answer", schema } }
      : undefined;
  const system = (body.systemInstruction as Content | undefined)?.parts?.map((part) => part.text ?? "").join("");
  const messages = [
    ...(system === undefined ? [] : [{ role: "system", content: system }]),
    ...(body.contents as Content[]).map((content) => {
      const parts = content.parts ?? [];
      if (parts.some((part) => part.functionResponse !== undefined))
        return { role: "tool", content: JSON.stringify(parts.map((part) => part.functionResponse)) };
      const text = parts.map((part) => part.text ?? "").join("");
      return { role: content.role === "model" ? "assistant" : "user", content: text };
    }),
  ];
  return {
    messages,
    tools: declarations.map((declaration) => ({
      type: "function",
      function: { name: declaration.name, parameters: declaration.parametersJsonSchema ?? declaration.parameters },
    })),
    ...(toolChoice === undefined ? {} : { tool_choice: toolChoice }),
    ...(format === undefined ? {} : { response_format: format }),
  };
}

/** AI Studio's model list, or Vertex's one publisher model; fails as every request fails. */
function listModels(res: ServerResponse, path: string, b: FakeBehaviour): void {
  if (b.errorStatus !== undefined && b.failModels === undefined && b.failFirst === undefined)
    return void googleError(res, b.errorStatus, b.errorMessage ?? "Fake Gemini error");
  res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
  if (path.startsWith("/v1beta1/")) return void res.end(JSON.stringify({ name: path.replace("/v1beta1/", ""), versionId: "001" }));
  res.end(JSON.stringify({ models: [{ name: "models/gemini-3.5-flash", displayName: "Gemini 3.5 Flash", supportedGenerationMethods: ["generateContent"] }] }));
}

/** Google's error body: `{"error":{"code","message","status"}}` (and `details` where Google sends them). */
function googleError(res: ServerResponse, code: number, message: string, retryAfter?: string, details?: unknown[]): void {
  res.writeHead(code, { "content-type": "application/json; charset=UTF-8", ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }) });
  res.end(JSON.stringify({ error: { code, message, status: STATUS_NAMES[code] ?? "UNKNOWN", ...(details === undefined ? {} : { details }) } }));
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
