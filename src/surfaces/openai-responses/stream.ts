/**
 * The canonical stream as the Responses API's events, each with its `sequence_number`:
 * `response.created` and `response.in_progress`; per output item
 * `response.output_item.added`, then for a message `response.content_part.added`,
 * `response.output_text.delta`… `response.output_text.done` and
 * `response.content_part.done`, for a function call
 * `response.function_call_arguments.delta`… `.done` (for a custom tool's call
 * `response.custom_tool_call_input.delta` and `.done`, once its input is whole), and
 * `response.output_item.done`;
 * then `response.completed` (or `response.incomplete`) with the whole response and its
 * usage. An error the relay reports after the first byte becomes an `error` event and
 * `response.failed`, and the stream ends there.
 */
import { type Chunk, type OpenAiUsage, streamedToolCalls, type ToolCall } from "../completion.ts";
import { translateStream } from "../translate-stream.ts";
import { callItem, customCallItem, customTools, functionCallItem, itemId, messageItem, type ResponseShell, responseUsage, statusOf } from "./response.ts";

type Open = { kind: "message"; id: string; text: string } | { kind: "call"; id: string; call: ToolCall };

/** `save` keeps the whole response, when it is to be stored, before its end is sent. */
export function toResponseStream(
  source: ReadableStream<Uint8Array>,
  shell: ResponseShell,
  save?: (response: Record<string, unknown>) => Promise<boolean>,
): ReadableStream<Uint8Array> {
  let sequence = 0;
  let started = false;
  let open: Open | undefined;
  let finish: string | null | undefined;
  let usage: OpenAiUsage | undefined;
  let model = "";
  const output: Record<string, unknown>[] = [];
  const custom = customTools(shell);

  const event = (type: string, body: Record<string, unknown>): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...body })}\n\n`;
  const response = (status: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...shell,
    model,
    status,
    output,
    usage: null,
    ...extra,
  });
  const start = (chunk: Chunk): string => {
    if (started) return "";
    started = true;
    model = chunk.model ?? "";
    const created = response("in_progress");
    return event("response.created", { response: created }) + event("response.in_progress", { response: created });
  };
  const close = (): string => {
    if (open === undefined) return "";
    const output_index = output.length;
    const closing = open;
    open = undefined;
    if (closing.kind === "message") {
      const item = messageItem(closing.id, closing.text, "completed");
      output.push(item);
      const part = { type: "output_text", text: closing.text, annotations: [] };
      return (
        event("response.output_text.done", { item_id: closing.id, output_index, content_index: 0, text: closing.text, logprobs: [] }) +
        event("response.content_part.done", { item_id: closing.id, output_index, content_index: 0, part }) +
        event("response.output_item.done", { output_index, item })
      );
    }
    const item = callItem(closing.call, custom, closing.id);
    output.push(item);
    if (item.type === "custom_tool_call") {
      // A custom tool's input is known once its arguments are whole: it goes in one delta.
      const input = String(item.input);
      return (
        event("response.custom_tool_call_input.delta", { item_id: closing.id, output_index, delta: input }) +
        event("response.custom_tool_call_input.done", { item_id: closing.id, output_index, input }) +
        event("response.output_item.done", { output_index, item })
      );
    }
    const { name, arguments: args } = closing.call.function;
    return (
      event("response.function_call_arguments.done", { item_id: closing.id, output_index, name, arguments: args }) +
      event("response.output_item.done", { output_index, item })
    );
  };
  const text = (delta: string): string => {
    let out = "";
    if (open?.kind !== "message") {
      out += close();
      open = { kind: "message", id: itemId("msg"), text: "" };
      const item = messageItem(open.id, "", "in_progress");
      out += event("response.output_item.added", { output_index: output.length, item });
      out += event("response.content_part.added", {
        item_id: open.id,
        output_index: output.length,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      });
    }
    open.text += delta;
    return out + event("response.output_text.delta", { item_id: open.id, output_index: output.length, content_index: 0, delta, logprobs: [] });
  };
  const call = (id: string | undefined, name: string | undefined, partial: string | undefined): string => {
    let out = "";
    if (id !== undefined || open?.kind !== "call") {
      out += close();
      const callId = id ?? `call_${crypto.randomUUID().replaceAll("-", "")}`;
      const isCustom = custom.has(name ?? "");
      open = { kind: "call", id: itemId(isCustom ? "ctc" : "fc"), call: { id: callId, function: { name: name ?? "", arguments: "" } } };
      const item = (isCustom ? customCallItem : functionCallItem)(open.id, open.call, "in_progress");
      out += event("response.output_item.added", { output_index: output.length, item });
    }
    if (!partial) return out;
    open.call.function.arguments += partial;
    if (custom.has(open.call.function.name)) return out;
    return out + event("response.function_call_arguments.delta", { item_id: open.id, output_index: output.length, delta: partial });
  };

  return translateStream(source, {
    chunk(chunk) {
      let out = start(chunk);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      const said = delta?.content ?? delta?.refusal;
      if (typeof said === "string" && said !== "") out += text(said);
      for (const piece of streamedToolCalls(delta)) out += call(piece.id, piece.function?.name, piece.function?.arguments);
      if (choice?.finish_reason) finish = choice.finish_reason;
      return out;
    },
    async end() {
      const out = start({}) + close();
      const status = statusOf(finish);
      const done = response(status.status, { incomplete_details: status.incomplete_details, usage: responseUsage(usage) });
      // What the database did not take is not promised: the final event says `store: false`.
      if (save !== undefined && !(await save(done))) done.store = false;
      return out + event(status.status === "completed" ? "response.completed" : "response.incomplete", { response: done });
    },
    error(message) {
      const failed = response("failed", { error: { code: "server_error", message } });
      return start({}) + event("error", { code: "server_error", message, param: null }) + event("response.failed", { response: failed });
    },
  });
}
