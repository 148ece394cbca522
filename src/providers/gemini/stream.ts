/**
 * Gemini's stream (`streamGenerateContent?alt=sse`: each event a whole `GenerateContentResponse`
 * holding what is new) as OpenAI chat-completion chunks: the same reading of parts as the
 * JSON answer (answer.ts), the finish reason on its own chunk, then one usage chunk from the
 * last `usageMetadata` (Gemini repeats it, growing, on every event) and `data: [DONE]`. A
 * stream that ends before a finish reason gets neither, so the relay sees it broken off; an
 * error event is passed on in OpenAI's in-stream error shape, so the relay sees it as one.
 */
import { rewriteSse } from "../sse-rewrite.ts";
import { completionId, finishReasonOf, type GeminiResponse, openAiUsage, readParts } from "./answer.ts";

export function chatChunks(body: ReadableStream<Uint8Array>, upstreamModel: string): ReadableStream<Uint8Array> {
  const created = Math.floor(Date.now() / 1000);
  let id: string | undefined;
  let usage: unknown;
  let finished = false;
  let failed = false;
  /** Per candidate: whether its role was sent, and how many calls it made (a call's `index`). */
  const begun = new Set<number>();
  const calls = new Map<number, number>();
  let out: string[] = [];

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
    out.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: upstreamModel, choices, ...extra })}\n\n`);
  };
  const onEvent = (data: string): void => {
    if (failed) return;
    let event: GeminiResponse;
    try {
      event = JSON.parse(data) as GeminiResponse;
    } catch {
      // Passed on as it came: the relay tells an unreadable first event.
      out.push(`data: ${data}\n\n`);
      return;
    }
    if (event.error !== undefined && event.error !== null) {
      failed = true;
      const error = event.error as { message?: unknown; status?: unknown; code?: unknown };
      out.push(
        `data: ${JSON.stringify({ error: { message: error.message ?? "Gemini's stream failed", type: "upstream_error", param: null, code: error.status ?? error.code ?? null } })}\n\n`,
      );
      return;
    }
    id ??= completionId(event);
    if (event.usageMetadata !== undefined) usage = event.usageMetadata;
    const candidates = Array.isArray(event.candidates) ? event.candidates : [];
    if (candidates.length === 0 && typeof event.promptFeedback?.blockReason === "string") {
      finished = true;
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: "content_filter" }]);
      return;
    }
    for (const [position, candidate] of candidates.entries()) {
      const index = candidate.index ?? position;
      const read = readParts(candidate.content?.parts);
      const delta: Record<string, unknown> = {};
      if (!begun.has(index)) {
        begun.add(index);
        delta.role = "assistant";
      }
      if (read.reasoning !== "") delta.reasoning = read.reasoning;
      if (read.text !== "") delta.content = read.text;
      if (read.calls.length > 0) {
        const before = calls.get(index) ?? 0;
        delta.tool_calls = read.calls.map((call, k) => ({ ...call, index: before + k }));
        calls.set(index, before + read.calls.length);
      }
      if (Object.keys(delta).length > 0) chunk([{ index, delta, finish_reason: null }]);
      if (typeof candidate.finishReason === "string") {
        finished = true;
        chunk([{ index, delta: {}, finish_reason: finishReasonOf(candidate.finishReason, (calls.get(index) ?? 0) > 0) }]);
      }
    }
  };
  return rewriteSse(
    body,
    (event) => onEvent(event.data),
    (ending) => {
      if (ending && finished && !failed) {
        const reported = openAiUsage(usage);
        if (reported !== undefined) chunk([], { usage: reported });
        out.push("data: [DONE]\n\n");
      }
      const text = out.join("");
      out = [];
      return text;
    },
  );
}
