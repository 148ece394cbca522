/**
 * The canonical answer as the surfaces read it: OpenAI's chat.completion, and the
 * chat.completion.chunk events of its stream (relayed live or replayed from the cache).
 * Only the fields a surface renders are typed.
 */

export type ToolCall = { id: string; function: { name: string; arguments: string } };

export type OpenAiUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number; cache_write_1h_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
};

type Choice = {
  message?: { content?: string | null; reasoning?: string | null; refusal?: string | null; tool_calls?: ToolCall[] };
  finish_reason?: string | null;
};

export type Completion = { id?: string; model?: string; created?: number; choices?: Choice[]; usage?: OpenAiUsage };

export type Delta = {
  content?: string | null;
  reasoning?: string | null;
  refusal?: string | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
};

export type Chunk = Omit<Completion, "choices"> & {
  choices?: { delta?: Delta; finish_reason?: string | null }[];
  error?: { message?: string; code?: string };
};

/**
 * The tool calls of a stream's delta, as far as they are calls: a provider's list that is
 * not one (an object, a string) or holds what is not an object is left out, so rendering
 * never throws mid-stream. (A JSON answer's are checked before any surface sees it.)
 */
export function streamedToolCalls(delta: Delta | undefined): NonNullable<Delta["tool_calls"]> {
  const calls: unknown = delta?.tool_calls;
  return Array.isArray(calls) ? calls.filter((call): call is NonNullable<Delta["tool_calls"]>[number] => typeof call === "object" && call !== null) : [];
}
