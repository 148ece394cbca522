/**
 * The canonical answer (OpenAI's chat.completion) as a Responses object: `output` items
 * (a `message` with its `output_text`, one `function_call` per tool call, call ids kept),
 * `status` and `incomplete_details` from `finish_reason`, and `usage` with the cached
 * and reasoning token counts where the provider reports them. The request's own
 * parameters are echoed from its shell (made as it was read), as OpenAI's are.
 */
import type { Completion, OpenAiUsage, ToolCall } from "../completion.ts";
import type { ResponsesRequest } from "./request.ts";

/** The fields of a Response object that come from its request, and its id. */
export type ResponseShell = Record<string, unknown> & { id: string };

/** A new response's id, in OpenAI's form. */
export const responseId = (): string => `resp_${crypto.randomUUID().replaceAll("-", "")}`;

export function responseShell(body: ResponsesRequest, id: string, createdAt = Math.floor(Date.now() / 1000)): ResponseShell {
  return {
    id,
    object: "response",
    created_at: createdAt,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    user: body.user ?? null,
    safety_identifier: body.safety_identifier ?? null,
  };
}

export type Status = { status: "completed" | "incomplete"; incomplete_details: { reason: string } | null };

/** `length` ends a response early at its `max_output_tokens`; a content filter ends it too. */
export function statusOf(finish: string | null | undefined): Status {
  if (finish === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

export function responseUsage(usage: OpenAiUsage | undefined): Record<string, unknown> {
  const input = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: input + output,
  };
}

/** An item id in OpenAI's form: `msg_…`, `fc_…`, `ctc_…`. */
export const itemId = (prefix: "msg" | "fc" | "ctc"): string => `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;

/** The names of the request's custom (free-form) tools, whose calls go back as `custom_tool_call` items. */
export function customTools(shell: ResponseShell): ReadonlySet<string> {
  const tools = (shell.tools ?? []) as { type?: string; name?: string }[];
  return new Set(tools.filter((tool) => tool.type === "custom" && typeof tool.name === "string").map((tool) => tool.name as string));
}

/** A custom tool's input: the one string argument its function was given (request.ts), else the arguments as written. */
export function customInput(args: string): string {
  try {
    const value = JSON.parse(args) as { input?: unknown };
    if (typeof value.input === "string") return value.input;
  } catch {
    // not JSON: the model wrote the input itself
  }
  return args;
}

export const messageItem = (id: string, text: string, status: "in_progress" | "completed"): Record<string, unknown> => ({
  type: "message",
  id,
  status,
  role: "assistant",
  content: status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [] }],
});

export const functionCallItem = (id: string, call: ToolCall, status: "in_progress" | "completed"): Record<string, unknown> => ({
  type: "function_call",
  id,
  call_id: call.id,
  name: call.function.name,
  arguments: status === "in_progress" ? "" : call.function.arguments,
  status,
});

export const customCallItem = (id: string, call: ToolCall, status: "in_progress" | "completed"): Record<string, unknown> => ({
  type: "custom_tool_call",
  id,
  call_id: call.id,
  name: call.function.name,
  input: status === "in_progress" ? "" : customInput(call.function.arguments),
  status,
});

/** The output item of a tool call: a custom tool's, or a function's. */
export const callItem = (call: ToolCall, custom: ReadonlySet<string>, id = itemId(custom.has(call.function.name) ? "ctc" : "fc")): Record<string, unknown> =>
  custom.has(call.function.name) ? customCallItem(id, call, "completed") : functionCallItem(id, call, "completed");

/** The whole Response object for a JSON answer. */
export function toResponse(completionText: string, shell: ResponseShell): Record<string, unknown> {
  const completion = JSON.parse(completionText) as Completion;
  const choice = completion.choices?.[0];
  const output: Record<string, unknown>[] = [];
  const text = choice?.message?.content ?? choice?.message?.refusal;
  if (typeof text === "string" && text !== "") output.push(messageItem(itemId("msg"), text, "completed"));
  const custom = customTools(shell);
  for (const call of choice?.message?.tool_calls ?? []) output.push(callItem(call, custom));
  return { ...shell, model: completion.model ?? "", ...statusOf(choice?.finish_reason), output, usage: responseUsage(completion.usage) };
}
