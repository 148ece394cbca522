/**
 * The canonical answer as the surfaces read it: OpenAI's chat.completion, and the
 * chat.completion.chunk events of its stream (relayed live or replayed from the cache).
 * Only the fields a surface renders are typed.
 */

export type ToolCall = { id: string; function: { name: string; arguments: string } };

export type OpenAiUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
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
