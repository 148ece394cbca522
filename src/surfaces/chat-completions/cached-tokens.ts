/**
 * OpenAI's clients read a chat answer's cache hits from `usage.prompt_tokens_details.cached_tokens`;
 * a provider that caches nothing may leave it out. It is added, as 0, where usage has none,
 * and only there: an answer that already says is passed on as the same bytes.
 */

/** Usage (a chat.completion's or a chunk's) with `prompt_tokens_details.cached_tokens`; the same object when it had it. */
export function withCachedTokens<T>(usage: T): T {
  if (typeof usage !== "object" || usage === null) return usage;
  const details = (usage as { prompt_tokens_details?: unknown }).prompt_tokens_details;
  if (typeof details === "object" && details !== null && typeof (details as { cached_tokens?: unknown }).cached_tokens === "number") return usage;
  const kept = typeof details === "object" && details !== null ? details : {};
  return { ...usage, prompt_tokens_details: { ...kept, cached_tokens: 0 } };
}

/** A usage object begins here (`"usage":null`, on OpenAI's other chunks, does not). */
const USAGE = /"usage"\s*:\s*\{/;
const CACHED = '"cached_tokens"';

/** A chat.completion's JSON with the field, parsed and written again only when it lacks it. */
export function completionWithCachedTokens(text: string): string {
  if (!USAGE.test(text) || text.includes(CACHED)) return text;
  try {
    const completion = JSON.parse(text) as { usage?: unknown };
    return JSON.stringify({ ...completion, usage: withCachedTokens(completion.usage) });
  } catch {
    return text;
  }
}

/**
 * An SSE text's events with the field in each usage, the rest as it was. The relay
 * (providers/sse-relay.ts) hands on whole events, so one piece of the stream never
 * ends inside an event.
 */
export function eventsWithCachedTokens(text: string): string {
  if (!USAGE.test(text) || text.includes(CACHED)) return text;
  return text
    .split("\n\n")
    .map((event) => (USAGE.test(event) ? event.replace(/^data: (.*)$/m, (_line, data: string) => `data: ${completionWithCachedTokens(data)}`) : event))
    .join("\n\n");
}

/** A relayed stream with the field in its usage chunk; a piece without a usage object goes on as the same bytes. */
export function streamWithCachedTokens(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(piece, controller) {
        const text = decoder.decode(piece);
        const changed = eventsWithCachedTokens(text);
        controller.enqueue(changed === text ? piece : encoder.encode(changed));
      },
    }),
  );
}
