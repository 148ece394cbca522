/** The OpenAI-compatible adapter: OpenRouter, Groq and any custom base URL speak OpenAI's chat completions. */
import { vectorToBase64 } from "../../canonical/embeddings.ts";
import { jsonBody } from "../../http/raw-strings.ts";
import type { ProviderAdapter } from "../adapter.ts";
import { anthropicBreakpoints, isAnthropicFamily, withoutBreakpoints } from "../breakpoints.ts";
import { readUsage } from "../usage.ts";

/** A chunk whose choice has a finish reason (`"finish_reason":"stop"`; `null` does not match). */
const FINISH_PATTERN = /"finish_reason"\s*:\s*"/;

type Completion = { choices?: unknown; usage?: unknown; error?: unknown };

/**
 * Providers that answer 400 to a `prompt_cache_key` ("property 'prompt_cache_key' is
 * unsupported": Groq, which caches by prefix without one), whether the session's or a
 * client's: they are sent none. The body cannot tell, since Groq serves models by the
 * same ids as OpenRouter (`openai/gpt-oss-120b`).
 */
const REFUSES_PROMPT_CACHE_KEY: ReadonlySet<string> = new Set(["groq"]);

function withoutPromptCacheKey(body: unknown): unknown {
  if (typeof body !== "object" || body === null || !("prompt_cache_key" in body)) return body;
  const { prompt_cache_key: _, ...rest } = body as Record<string, unknown>;
  return rest;
}
type Embeddings = { data?: unknown; usage?: unknown; error?: unknown };

export const openAiCompatible: ProviderAdapter = {
  completionRequest(provider, body, stream, raw) {
    const sent = REFUSES_PROMPT_CACHE_KEY.has(provider.id) ? withoutPromptCacheKey(body) : body;
    return { url: `${base(provider.baseUrl)}/chat/completions`, headers: postHeaders(provider, stream), body: jsonBody(sent, raw) };
  },

  /**
   * Vectors are asked for in base64, the form they are kept in: a quarter of the bytes of
   * JSON floats, and nothing to parse. OpenAI's own SDK asks for it by default, so a server
   * that serves that SDK takes it; one that sends floats anyway is read too.
   */
  embeddingsRequest(provider, { upstreamModel, inputs, dimensions, user }) {
    const body: Record<string, unknown> = { model: upstreamModel, input: inputs, encoding_format: "base64" };
    if (dimensions !== undefined) body.dimensions = dimensions;
    if (user !== undefined) body.user = user;
    return { url: `${base(provider.baseUrl)}/embeddings`, headers: postHeaders(provider, false), body: JSON.stringify(body) };
  },

  readEmbeddings(text, count) {
    const answer = answerOf<Embeddings>(text);
    if (typeof answer === "string") return { failure: answer };
    if (!Array.isArray(answer.data) || answer.data.length !== count) return { failure: "wrong_count" };
    const vectors: string[] = new Array(count);
    for (const [position, item] of answer.data.entries()) {
      const { index = position, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= count || vectors[index] !== undefined)
        return { failure: "wrong_count" };
      if (typeof embedding === "string") vectors[index] = embedding;
      else if (Array.isArray(embedding) && embedding.every((value) => typeof value === "number")) vectors[index] = vectorToBase64(embedding);
      else return { failure: "wrong_count" };
    }
    // An embedding has no completion: its absence is no fault of the report.
    const usage = typeof answer.usage === "object" && answer.usage !== null ? readUsage({ completion_tokens: 0, ...answer.usage }) : undefined;
    return { vectors, usage };
  },

  /**
   * The client's body with the provider's model id, and usage asked for on streams so
   * the router can price them. Spread, not Object.assign, so a client's own `__proto__`
   * key stays a plain property. The provider's prompt cache: Anthropic's models get the
   * breakpoints (the client's, moved where they cannot stand, or the router's own), which
   * OpenRouter passes on; every other model caches by prefix on its own, gets none (its
   * provider may refuse a field it does not know), and gets the session as its
   * `prompt_cache_key` unless the client set one, so its calls reach the same cache.
   */
  body(request, upstreamModel, { stream, sessionKey }) {
    const body: Record<string, unknown> = { ...request, model: upstreamModel };
    if (stream) body.stream_options = { ...request.stream_options, include_usage: true };
    const anthropic = isAnthropicFamily(upstreamModel);
    const marks = anthropic ? anthropicBreakpoints(request) : withoutBreakpoints(request);
    body.messages = marks.messages;
    if (marks.tools !== undefined) body.tools = marks.tools;
    if (!anthropic && !request.prompt_cache_key && sessionKey !== undefined) body.prompt_cache_key = sessionKey;
    return body;
  },

  probeRequest(provider, kind, model) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (provider.apiKey !== undefined) headers.authorization = `Bearer ${provider.apiKey}`;
    if (kind === "models") return { url: `${base(provider.baseUrl)}/models`, init: { headers } };
    const body = { model, messages: [{ role: "user", content: "ping" }], max_tokens: 1 };
    return {
      url: `${base(provider.baseUrl)}/chat/completions`,
      init: { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) },
    };
  },

  /** A 401 is a refused key (the router's, or a tenant's own); OpenRouter's 403 is its moderation, left to its status. */
  errorKind: (status) => (status === 401 ? "auth_failed" : undefined),

  chatAnswer: (text) => text,
  chatStream: (body) => body,

  readCompletion(text) {
    const completion = answerOf<Completion>(text);
    if (typeof completion === "string") return { failure: completion };
    if (!Array.isArray(completion.choices) || completion.choices.length === 0) return { failure: "no_choices" };
    if (!completion.choices.every(wellFormedCalls)) return { failure: "bad_tool_calls" };
    const complete = completion.choices.every(
      (choice) => typeof choice === "object" && choice !== null && typeof (choice as { finish_reason?: unknown }).finish_reason === "string",
    );
    return { usage: readUsage(completion.usage), complete, outputChars: answerChars(text) };
  },

  firstEvent(data) {
    try {
      const parsed = JSON.parse(data) as { error?: unknown; choices?: unknown; usage?: unknown };
      if (parsed.error !== undefined && parsed.error !== null) return "error";
      return Array.isArray(parsed.choices) || parsed.usage !== undefined ? "chunk" : "unreadable";
    } catch {
      return /^\s*\{\s*"error"/.test(data) ? "error" : "unreadable";
    }
  },

  readEvent(data) {
    const finished = FINISH_PATTERN.test(data);
    const outputChars = answerChars(data);
    // Most chunks carry no usage: they are read by pattern, never parsed.
    if (!data.includes('"usage"')) return { finished, usage: undefined, usageOnly: false, outputChars };
    let parsed: { choices?: unknown[]; usage?: unknown };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      return { finished, usage: undefined, usageOnly: false, outputChars };
    }
    const usage = readUsage(parsed.usage);
    const hasChoices = Array.isArray(parsed.choices) && parsed.choices.length > 0;
    return { finished, usage, usageOnly: usage !== undefined && !hasChoices, outputChars };
  },

  errorMessage(body) {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
      const inner = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message);
      if (typeof inner === "string") return inner;
    } catch {
      // not JSON: the raw text
    }
    return body;
  },
};

const base = (url: string): string => url.replace(/\/+$/, "");

/** A choice whose `message.tool_calls`, if any, is a list of calls each naming a function: what every surface renders from. */
function wellFormedCalls(choice: unknown): boolean {
  const calls = (choice as { message?: { tool_calls?: unknown } } | null)?.message?.tool_calls;
  if (calls === undefined || calls === null) return true;
  return (
    Array.isArray(calls) &&
    calls.every((call) => {
      const fn = (call as { function?: unknown } | null)?.function as { name?: unknown; arguments?: unknown } | null | undefined;
      return typeof fn === "object" && fn !== null && typeof fn.name === "string" && (fn.arguments === undefined || typeof fn.arguments === "string");
    })
  );
}

/** A 200's body as an object, or why it is not an answer: not JSON, or the provider's error in a 200. */
function answerOf<T extends { error?: unknown }>(text: string): T | "not_json" | "error" {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "not_json";
  }
  const answer = (typeof parsed === "object" && parsed !== null ? parsed : {}) as T;
  return answer.error !== undefined && answer.error !== null ? "error" : answer;
}

function postHeaders(provider: Parameters<ProviderAdapter["completionRequest"]>[0], stream: boolean): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" };
  if (provider.apiKey !== undefined) headers.authorization = `Bearer ${provider.apiKey}`;
  return headers;
}

/** A string the model wrote: message or delta text, tool arguments, a refusal, reasoning (`"content":"…"`, escapes kept). */
const WRITTEN = /"(?:content|arguments|refusal|reasoning|reasoning_content)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/**
 * Characters the model wrote in a completion or a chunk, read by pattern (escapes count
 * as written, a slight overcount). A character past ASCII counts as four, since it is
 * about a token, as the prompt estimate counts it.
 */
function answerChars(json: string): number {
  let chars = 0;
  for (const match of json.matchAll(WRITTEN)) chars += match[1]!.length + 3 * nonAscii(match[1]!);
  return chars;
}

function nonAscii(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) count += 1;
  return count;
}
