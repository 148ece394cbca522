/**
 * Turns a streamed completion into the chat.completion it amounts to, so a stream
 * can be cached; and a cached completion back into a stream, so it can be replayed.
 */

type ToolCall = { id?: string; type: string; function: { name: string; arguments: string } };
type Choice = { role: string; content: string; refusal: string; toolCalls: Map<number, ToolCall>; finish: string | null };
type Delta = {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  tool_calls?: { index: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[];
};
type Chunk = {
  id?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string;
  choices?: { index: number; delta?: Delta; finish_reason?: string | null }[];
  usage?: unknown;
};

export type StreamAssembler = {
  /** Adds one `data:` payload of the stream (not `[DONE]`). */
  add(data: string): void;
  /** The chat.completion JSON, or `undefined` if the stream said nothing usable or a choice never finished. */
  result(): string | undefined;
};

export function assembleStream(): StreamAssembler {
  const choices = new Map<number, Choice>();
  let head: Chunk = {};
  let usage: unknown;
  let broken = false;
  return {
    add(data) {
      let chunk: Chunk;
      try {
        chunk = JSON.parse(data) as Chunk;
      } catch {
        broken = true;
        return;
      }
      if (head.id === undefined) head = chunk;
      if (chunk.usage) usage = chunk.usage;
      for (const part of chunk.choices ?? []) {
        let choice = choices.get(part.index);
        if (choice === undefined) {
          choice = { role: "assistant", content: "", refusal: "", toolCalls: new Map(), finish: null };
          choices.set(part.index, choice);
        }
        const delta = part.delta ?? {};
        if (delta.role) choice.role = delta.role;
        if (delta.content) choice.content += delta.content;
        if (delta.refusal) choice.refusal += delta.refusal;
        for (const call of delta.tool_calls ?? []) {
          const known = choice.toolCalls.get(call.index) ?? { type: "function", function: { name: "", arguments: "" } };
          if (call.id) known.id = call.id;
          if (call.type) known.type = call.type;
          known.function.name += call.function?.name ?? "";
          known.function.arguments += call.function?.arguments ?? "";
          choice.toolCalls.set(call.index, known);
        }
        if (part.finish_reason) choice.finish = part.finish_reason;
      }
    },
    result() {
      // Only a whole answer is worth caching: every choice must have finished.
      if (broken || choices.size === 0 || [...choices.values()].some((choice) => choice.finish === null)) return undefined;
      return JSON.stringify({
        id: head.id,
        object: "chat.completion",
        created: head.created,
        model: head.model,
        ...(head.system_fingerprint ? { system_fingerprint: head.system_fingerprint } : {}),
        choices: [...choices.entries()]
          .sort(([a], [b]) => a - b)
          .map(([index, choice]) => ({
            index,
            message: {
              role: choice.role,
              content: choice.content === "" && choice.toolCalls.size > 0 ? null : choice.content,
              ...(choice.refusal ? { refusal: choice.refusal } : {}),
              ...(choice.toolCalls.size > 0 ? { tool_calls: [...choice.toolCalls.values()] } : {}),
            },
            finish_reason: choice.finish,
            logprobs: null,
          })),
        ...(usage ? { usage } : {}),
      });
    },
  };
}

type Completion = {
  id: string;
  created: number;
  model: string;
  choices: { index: number; message: { role: string; content: string | null; tool_calls?: ToolCall[] }; finish_reason: string | null }[];
  usage?: unknown;
};

/** A cached chat.completion as the SSE stream a provider would have sent, ending in `[DONE]`. */
export function replayAsStream(body: string, includeUsage: boolean): string {
  const completion = JSON.parse(body) as Completion;
  const base = { id: completion.id, object: "chat.completion.chunk", created: completion.created, model: completion.model };
  const event = (payload: object): string => `data: ${JSON.stringify({ ...base, ...payload })}\n\n`;
  let out = "";
  for (const choice of completion.choices) {
    const { role, content, tool_calls } = choice.message;
    const toolCalls = tool_calls?.map((call, index) => ({ index, ...call }));
    out += event({ choices: [{ index: choice.index, delta: { role, content, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: null }] });
    out += event({ choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }] });
  }
  if (includeUsage && completion.usage) out += event({ choices: [], usage: completion.usage });
  return `${out}data: [DONE]\n\n`;
}
