/**
 * A fake AWS Bedrock runtime, served by the fake provider (fake-upstream.ts) for paths under
 * `/model/`: `POST /model/{modelId}/converse` and `/converse-stream`, in Bedrock's own
 * formats. Every call's SigV4 signature is checked by this file's own implementation of
 * AWS's canonical request (node:crypto, not aws4fetch), so a wrong signature or secret
 * gets Bedrock's 403; answers are Converse JSON, streams binary event-stream frames
 * (encoded with AWS's codec, CRCs and all), errors Bedrock's bodies and `x-amzn-ErrorType`.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { type FakeAnswer, fakeAnswer, pieces } from "./fake-answer.ts";
import type { FakeBehaviour } from "./fake-behaviour.ts";

/** The fake provider's state: its behaviour (with per-model overrides) and the requests it saw. */
type Served = {
  behaviour: FakeBehaviour;
  seen: { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> }[];
};

/** The one credential the fake knows: what `npm run dev` and the tests configure. */
export const FAKE_AWS = { accessKeyId: "AKIAFAKEBEDROCK00001", secretAccessKey: "fake-bedrock-secret-key-0123456789abcdef", region: "us-east-1" };
/** A second account the fake knows: a tenant's own (BYOK), signed for another region. */
export const FAKE_AWS_TENANT = { accessKeyId: "AKIAFAKETENANT000002", secretAccessKey: "fake-tenant-secret-key-GREPME-0123456789", region: "eu-west-1" };
const KNOWN_AWS = [FAKE_AWS, FAKE_AWS_TENANT];

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Bedrock's error type for a status the fake is told to fail with. */
function errorTypeFor(status: number, message: string): string {
  if (status === 429) return /not ready/i.test(message) ? "ModelNotReadyException" : "ThrottlingException";
  if (status === 403) return /security token/i.test(message) ? "UnrecognizedClientException" : "AccessDeniedException";
  return (
    {
      400: "ValidationException",
      404: "ResourceNotFoundException",
      408: "ModelTimeoutException",
      424: "ModelErrorException",
      503: "ServiceUnavailableException",
    }[status] ?? "InternalServerException"
  );
}

/** An error as Bedrock answers it: the type in `x-amzn-ErrorType`, `{"message"}` in the body. */
export function sendBedrockError(res: ServerResponse, status: number, type: string, message: string, retryAfter?: string): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    "x-amzn-requestid": crypto.randomUUID(),
    ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }),
  });
  res.end(JSON.stringify({ message }));
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, upper-case hex. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();

/**
 * Checks a request's SigV4 signature as AWS does, or says why it fails: the canonical
 * request (method; the path with each segment URI-encoded once more, as every service but
 * S3 wants; the query; the signed headers, lower-case, trimmed; the body's SHA-256), the
 * string to sign under the credential's scope, and the key derived from the secret by
 * HMAC over date, region, service and `aws4_request`.
 */
export function verifySigV4(
  request: { method: string; path: string; headers: IncomingMessage["headers"]; body: Buffer },
  credentials: { accessKeyId: string; secretAccessKey: string },
  now: Date = new Date(),
): { ok: true } | { ok: false; status: number; type: string; message: string } {
  const auth = String(request.headers.authorization ?? "");
  const parsed = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (parsed === null) return { ok: false, status: 403, type: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
  const [, keyId, day, region, service, signedHeaders, signature] = parsed as unknown as string[];
  if (keyId !== credentials.accessKeyId)
    return { ok: false, status: 403, type: "UnrecognizedClientException", message: "The security token included in the request is invalid." };
  const amzDate = String(request.headers["x-amz-date"] ?? "");
  const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (signedAt === null || amzDate.slice(0, 8) !== day || service !== "bedrock") {
    return {
      ok: false,
      status: 403,
      type: "InvalidSignatureException",
      message: "Credential should be scoped to a valid region and service, with the date of X-Amz-Date.",
    };
  }
  const [, y, mo, d, h, mi, s] = signedAt.map(Number) as number[];
  if (Math.abs(now.getTime() - Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)) > 15 * 60_000) {
    return {
      ok: false,
      status: 403,
      type: "InvalidSignatureException",
      message: "Signature expired: the request's X-Amz-Date is more than 15 minutes from now.",
    };
  }
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) {
    return { ok: false, status: 403, type: "InvalidSignatureException", message: "The request must sign the host and x-amz-date headers." };
  }
  const [path = "/", query = ""] = request.path.split("?", 2);
  const canonicalPath = path
    .split("/")
    .map((segment) => uriEncode(segment))
    .join("/");
  const canonicalQuery = query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => pair.split("=", 2).map((part) => uriEncode(decodeURIComponent(part ?? ""))) as [string, string])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([key, value = ""]) => `${key}=${value}`)
    .join("&");
  const headerValue = (name: string): string => {
    const value = request.headers[name];
    return (Array.isArray(value) ? value.join(",") : String(value ?? "")).trim().replace(/\s+/g, " ");
  };
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath,
    canonicalQuery,
    `${names.map((name) => `${name}:${headerValue(name)}`).join("\n")}\n`,
    signedHeaders,
    sha256Hex(request.body),
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day!), region!), service!), "aws4_request");
  const expected = Buffer.from(hmac(key, stringToSign).toString("hex"));
  if (!timingSafeEqual(expected, Buffer.from(signature!))) {
    return {
      ok: false,
      status: 403,
      type: "InvalidSignatureException",
      message:
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    };
  }
  return { ok: true };
}

type Converse = {
  messages?: { role?: string; content?: Record<string, unknown>[] }[];
  system?: Record<string, unknown>[];
  inferenceConfig?: { maxTokens?: number };
  toolConfig?: {
    tools?: { toolSpec?: { name?: string; description?: string; inputSchema?: { json?: Record<string, unknown> } } }[];
    toolChoice?: Record<string, { name?: string }>;
  };
};

/** The Converse body as the chat body `fakeAnswer` reads: the same tools, choice and turns, a tool result as a `tool` message. */
function asChat(body: Converse): Record<string, unknown> {
  const tools = (body.toolConfig?.tools ?? [])
    .filter((tool) => tool.toolSpec !== undefined)
    .map((tool) => ({ type: "function", function: { name: tool.toolSpec!.name, parameters: tool.toolSpec!.inputSchema?.json ?? {} } }));
  const choice = body.toolConfig?.toolChoice;
  const tool_choice = choice?.tool ? { type: "function", function: { name: choice.tool.name } } : choice?.any ? "required" : "auto";
  const messages = (body.messages ?? []).map((message) => {
    const blocks = message.content ?? [];
    const text = blocks.map((block) => (typeof block.text === "string" ? block.text : "")).join("");
    const answered = blocks.some((block) => block.toolResult !== undefined) && text === "";
    return { role: answered ? "tool" : message.role, content: text };
  });
  return { tools, tool_choice, messages };
}

/** `POST /model/{modelId}/converse` and `/converse-stream`, after the signature is checked. */
export async function handleBedrock(fake: Served, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
  const route = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url ?? "");
  const keyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
  const account = KNOWN_AWS.find((known) => known.accessKeyId === keyId) ?? FAKE_AWS;
  const verdict = verifySigV4({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: raw }, account);
  if (!verdict.ok) return sendBedrockError(res, verdict.status, verdict.type, verdict.message);
  if (req.method !== "POST" || route === null) return sendBedrockError(res, 404, "UnknownOperationException", "Unknown operation");
  const modelId = decodeURIComponent(route[1]!);
  const stream = route[2] === "converse-stream";
  let body: Converse;
  try {
    body = JSON.parse(raw.toString("utf8")) as Converse;
  } catch {
    return sendBedrockError(res, 400, "SerializationException", "The request body is not JSON");
  }
  fake.seen.push({ path: req.url ?? "", headers: req.headers, body: body as Record<string, unknown> });
  if (fake.seen.length > 100) fake.seen.shift();
  const b: FakeBehaviour = { ...fake.behaviour, ...fake.behaviour.perModel[modelId] };
  await sleep(b.latencyMs);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return sendBedrockError(res, 400, "ValidationException", "The model returned the following errors: messages: at least one message is required");
  }
  if (
    b.errorStatus !== undefined &&
    b.failRate === 0 &&
    (b.failModels === undefined || b.failModels.includes(modelId)) &&
    (b.failFirst === undefined || fake.behaviour.failFirst!-- > 0)
  ) {
    const message = b.errorMessage ?? `Fake Bedrock error ${b.errorStatus}`;
    return sendBedrockError(res, b.errorStatus, errorTypeFor(b.errorStatus, message), message, b.retryAfter);
  }
  const prompt = JSON.stringify([body.system ?? [], body.messages]);
  if (b.failPrompts?.some((poison) => prompt.includes(poison))) {
    return sendBedrockError(res, 500, "InternalServerException", b.errorMessage ?? "Fake Bedrock error: the model failed on this content");
  }

  const limit = body.inferenceConfig?.maxTokens ?? Number.POSITIVE_INFINITY;
  const written = Math.min(b.completionTokens, limit);
  const words = Array.from({ length: written }, (_, i) => (i === 0 ? "Fake" : ` token${i}`));
  const answer = fakeAnswer(asChat(body), words);
  const stopReason = answer.kind === "tool_call" ? "tool_use" : written < b.completionTokens ? "max_tokens" : "end_turn";
  const inputTokens = b.promptTokens ?? Math.ceil(prompt.length / 4);
  const usage = b.usage ?? { inputTokens, outputTokens: written, totalTokens: inputTokens + written };
  if (!stream) {
    if (b.malformed) return void res.writeHead(200, { "content-type": "application/json" }).end('{"output":{"message":{"role":"assis');
    const content =
      answer.kind === "tool_call"
        ? [{ toolUse: { toolUseId: `tooluse_${answer.id}`, name: answer.name, input: JSON.parse(answer.arguments) } }]
        : [{ text: answer.content }];
    res.writeHead(200, { "content-type": "application/json", "x-amzn-requestid": crypto.randomUUID() });
    res.end(JSON.stringify({ output: { message: { role: "assistant", content } }, stopReason, usage, metrics: { latencyMs: 1 } }));
    return;
  }
  await streamAnswer(res, b, answer, words, stopReason, usage);
}

/** One event-stream frame: an event (`:event-type`) or an exception (`:exception-type`), with a JSON payload. */
export function frame(kind: "event" | "exception", type: string, payload: object): Uint8Array {
  const text = (value: string) => ({ type: "string" as const, value });
  const headers: Record<string, ReturnType<typeof text>> = { ":content-type": text("application/json"), ":message-type": text(kind) };
  headers[kind === "event" ? ":event-type" : ":exception-type"] = text(type);
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

/** ConverseStream's events for the answer; Bedrock pads each payload with `p` (its length hides the tokens'), and so does the fake. */
async function streamAnswer(res: ServerResponse, b: FakeBehaviour, answer: FakeAnswer, words: string[], stopReason: string, usage: unknown): Promise<void> {
  const pad = (payload: object): object => ({ ...payload, p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ".slice(0, 4 + Math.floor(Math.random() * 20)) });
  const events: Uint8Array[] = [frame("event", "messageStart", pad({ role: "assistant" }))];
  if (answer.kind === "tool_call") {
    events.push(
      frame("event", "contentBlockStart", pad({ contentBlockIndex: 0, start: { toolUse: { toolUseId: `tooluse_${answer.id}`, name: answer.name } } })),
    );
    for (const piece of pieces(answer.arguments))
      events.push(frame("event", "contentBlockDelta", pad({ contentBlockIndex: 0, delta: { toolUse: { input: piece } } })));
  } else {
    const parts = answer.content === words.join("") ? words : pieces(answer.content);
    for (const part of parts) events.push(frame("event", "contentBlockDelta", pad({ contentBlockIndex: 0, delta: { text: part } })));
  }
  events.push(frame("event", "contentBlockStop", pad({ contentBlockIndex: 0 })));
  events.push(frame("event", "messageStop", pad({ stopReason })));
  events.push(frame("event", "metadata", pad({ usage, metrics: { latencyMs: 1 } })));
  // A provider's stream error, as Bedrock sends it: an exception frame in place of the rest.
  if (b.errorIn200)
    events.splice(
      b.breakAfterChunks ?? 1,
      events.length,
      frame("exception", "modelStreamErrorException", { message: b.errorMessage ?? "Fake Bedrock stream error" }),
    );
  if (b.malformed) {
    // A frame whose CRC does not match its bytes: a corrupted stream.
    const bad = events[1]!.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    events.splice(1, 1, bad);
  }
  res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": crypto.randomUUID() });
  res.flushHeaders();
  await sleep(b.firstTokenMs);
  for (const [i, event] of events.entries()) {
    if (!b.errorIn200 && i === b.breakAfterChunks) return void res.socket?.end();
    if (i === b.stallAfterChunks) return;
    if (i > 1) await sleep(b.tokenIntervalMs);
    // Each frame in two writes: a client must join frames split across reads.
    const cut = Math.floor(event.byteLength / 2);
    res.write(event.subarray(0, cut));
    res.write(event.subarray(cut));
  }
  res.end();
}
