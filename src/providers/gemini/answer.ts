/**
 * Gemini's answer (`GenerateContentResponse`) as an OpenAI chat completion, which the
 * readers, the response cache and every surface read: text parts are the content, thought
 * parts (`thought: true`) the reasoning, `functionCall` parts tool calls (with ids made here:
 * Gemini gives none), and `usageMetadata` OpenAI's usage with its classes kept (cache reads in
 * `prompt_tokens_details.cached_tokens`, thoughts in `completion_tokens_details.reasoning_tokens`).
 * A prompt Gemini blocked (`promptFeedback.blockReason`) is an answer that ends in
 * `content_filter`, as OpenAI reports its own filter.
 */
import { readGeminiUsage } from "../usage/gemini.ts";

export type GeminiCandidate = { index?: number; content?: { parts?: GeminiPart[] }; finishReason?: string };
type GeminiPart = { text?: string; thought?: boolean; thoughtSignature?: string; functionCall?: { name?: string; args?: unknown } };
export type GeminiResponse = {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: unknown;
  responseId?: string;
  error?: unknown;
};

export type OpenAiToolCall = {
  index?: number;
  id: string;
  type: "function";
  function: { name: string; arguments: string };
  extra_content?: { google: { thought_signature: string } };
};

/** What one candidate's parts say, split as OpenAI's message splits it. */
export type PartsRead = { text: string; reasoning: string; calls: OpenAiToolCall[] };

/** Gemini's finish reasons that mean its filter stopped the answer. */
const FILTERED = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"]);

/** OpenAI's finish reason for Gemini's; `called` when the candidate made a tool call. */
export function finishReasonOf(reason: string, called: boolean): string {
  if (reason === "MAX_TOKENS") return "length";
  if (FILTERED.has(reason)) return "content_filter";
  return called ? "tool_calls" : "stop";
}

/** A call id of OpenAI's form: Gemini's calls have none, and a client sends it back with the result. */
export const callId = (): string => `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;

export function readParts(parts: readonly GeminiPart[] | undefined): PartsRead {
  const read: PartsRead = { text: "", reasoning: "", calls: [] };
  for (const part of parts ?? []) {
    if (part.functionCall !== undefined) {
      const call: OpenAiToolCall = {
        id: callId(),
        type: "function",
        function: { name: part.functionCall.name ?? "", arguments: JSON.stringify(part.functionCall.args ?? {}) },
      };
      // Gemini 3 wants its signature back with the call: Google's OpenAI-compatible form carries it here.
      if (typeof part.thoughtSignature === "string") call.extra_content = { google: { thought_signature: part.thoughtSignature } };
      read.calls.push(call);
    } else if (typeof part.text === "string") {
      if (part.thought === true) read.reasoning += part.text;
      else read.text += part.text;
    }
  }
  return read;
}

/** Gemini's `usageMetadata` as OpenAI's `usage`, or undefined when there is none. */
export function openAiUsage(metadata: unknown): Record<string, unknown> | undefined {
  const usage = readGeminiUsage(metadata);
  if (usage === undefined) return undefined;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

/** The completion's id: Gemini's response id where it gave one. */
export const completionId = (answer: Pick<GeminiResponse, "responseId">): string =>
  `chatcmpl-${typeof answer.responseId === "string" && answer.responseId !== "" ? answer.responseId : crypto.randomUUID()}`;

/**
 * The JSON answer as an OpenAI chat completion. A body that is not Gemini's answer (not
 * JSON, an error in a 200) is returned as it is, for the reader to say why it is not one.
 */
export function chatCompletion(text: string, upstreamModel: string): string {
  let answer: GeminiResponse;
  try {
    answer = JSON.parse(text) as GeminiResponse;
  } catch {
    return text;
  }
  if (typeof answer !== "object" || answer === null || (answer.error !== undefined && answer.error !== null)) return text;
  const blocked = answer.promptFeedback?.blockReason;
  const candidates = Array.isArray(answer.candidates) ? answer.candidates : [];
  const choices =
    candidates.length === 0 && typeof blocked === "string"
      ? [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "content_filter" }]
      : candidates.map((candidate, position) => {
          const read = readParts(candidate.content?.parts);
          const message: Record<string, unknown> = { role: "assistant", content: read.calls.length > 0 && read.text === "" ? null : read.text };
          if (read.reasoning !== "") message.reasoning = read.reasoning;
          if (read.calls.length > 0) message.tool_calls = read.calls;
          const finish = typeof candidate.finishReason === "string" ? finishReasonOf(candidate.finishReason, read.calls.length > 0) : null;
          return { index: candidate.index ?? position, message, finish_reason: finish };
        });
  const usage = openAiUsage(answer.usageMetadata);
  return JSON.stringify({
    id: completionId(answer),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: upstreamModel,
    choices,
    ...(usage === undefined ? {} : { usage }),
  });
}
