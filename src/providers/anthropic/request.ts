/**
 * The canonical request (OpenAI's chat body) as Anthropic's Messages body: system messages
 * become `system`, tool calls `tool_use` blocks and tool messages `tool_result` blocks (ids
 * kept), images and PDFs their blocks, the parameters their Messages names. Breakpoints
 * stand where providers/breakpoints.ts places them for Claude. What Anthropic cannot take
 * is refused with a 400 naming the field.
 */
import { type CanonicalRequest, type Message, requestedOutputTokens } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";
import { anthropicBreakpoints } from "../breakpoints.ts";

type Block = Record<string, unknown>;
type Turn = { role: "user" | "assistant"; content: Block[] };
type Part = { type: string; cache_control?: unknown; [field: string]: unknown };

/**
 * The tool a `json_schema` answer is asked through: Anthropic's one way, on every Claude
 * model, to hold an answer to a schema is a tool call it is forced to make, whose input
 * the answer readers (answer.ts, stream.ts) turn back into the message's text.
 */
export const JSON_ANSWER_TOOL = "tiergate_json_answer";

/**
 * The most a Claude model writes in one answer, by its name: Anthropic requires
 * `max_tokens`, so a request that sets none is bounded by the model's own limit.
 */
export function modelOutputLimit(upstreamModel: string): number {
  if (/claude-3-(haiku|opus|sonnet)/.test(upstreamModel)) return 4_096;
  if (/claude-3-[57]/.test(upstreamModel)) return 8_192;
  if (/claude-opus-4-[01]|claude-opus-4$|claude-opus-4-2025/.test(upstreamModel)) return 32_000;
  return 64_000;
}

/** The Messages body for a canonical request, to Anthropic's model `upstreamModel`. */
export function messagesBody(request: CanonicalRequest, upstreamModel: string, stream: boolean): Record<string, unknown> {
  if ((request.n ?? 1) > 1) throw refused("n", "Anthropic's models write one answer per request");
  const marks = anthropicBreakpoints(request);
  const system: Block[] = [];
  const turns: Turn[] = [];
  for (const [m, message] of marks.messages.entries()) {
    if (message.role === "system" || message.role === "developer") system.push(...textBlocks(message.content, `messages[${m}]`));
    else add(turns, turnOf(message, `messages[${m}]`));
  }
  const body: Record<string, unknown> = {
    model: upstreamModel,
    max_tokens: requestedOutputTokens(request) ?? modelOutputLimit(upstreamModel),
    messages: turns,
  };
  if (stream) body.stream = true;
  if (request.stop !== undefined && request.stop !== null) body.stop_sequences = typeof request.stop === "string" ? [request.stop] : request.stop;
  // Anthropic's temperature runs 0-1 (OpenAI's 0-2): above 1 is its most random. Its newer models take temperature or top_p, not both.
  if (typeof request.temperature === "number") body.temperature = Math.min(request.temperature, 1);
  else if (typeof request.top_p === "number") body.top_p = request.top_p;
  if (request.user) body.metadata = { user_id: request.user };
  const tools = (marks.tools ?? []).map((tool) => {
    const out: Block = { name: tool.function.name, input_schema: tool.function.parameters ?? { type: "object", properties: {} } };
    if (tool.function.description !== undefined) out.description = tool.function.description;
    if (tool.cache_control) out.cache_control = tool.cache_control;
    return out;
  });
  let choice = toolChoice(request);
  const format = request.response_format;
  if (format?.type === "json_schema") {
    const schema = (format.json_schema as { schema?: unknown }).schema ?? { type: "object" };
    if (tools.length === 0) {
      tools.push({ name: JSON_ANSWER_TOOL, description: "Give the answer: its input is the whole answer.", input_schema: schema });
      choice = { type: "tool", name: JSON_ANSWER_TOOL };
    } else system.push({ type: "text", text: `Answer with JSON only, valid against this JSON schema: ${JSON.stringify(schema)}` });
  } else if (format?.type === "json_object") system.push({ type: "text", text: "Answer with a single JSON object and nothing else." });
  if (system.length > 0) body.system = system;
  if (tools.length > 0) body.tools = tools;
  if (choice !== undefined) body.tool_choice = choice;
  return body;
}

/** OpenAI's tool choice as Anthropic's; `parallel_tool_calls: false` rides on it. */
function toolChoice(request: CanonicalRequest): Block | undefined {
  const choice = request.tool_choice;
  let out: Block | undefined;
  if (choice === "none") out = { type: "none" };
  else if (choice === "auto") out = { type: "auto" };
  else if (choice === "required") out = { type: "any" };
  else if (typeof choice === "object" && choice !== null) out = { type: "tool", name: choice.function.name };
  if (request.parallel_tool_calls === false && (request.tools?.length ?? 0) > 0) out = { ...(out ?? { type: "auto" }), disable_parallel_tool_use: true };
  return out;
}

/** Appends a turn, joining it to the last when both are the same role (tool results and the user's next words are one user turn). */
function add(turns: Turn[], turn: Turn | undefined): void {
  if (turn === undefined || turn.content.length === 0) return;
  const last = turns.at(-1);
  if (last?.role === turn.role) last.content.push(...turn.content);
  else turns.push(turn);
}

function turnOf(message: Message, at: string): Turn | undefined {
  switch (message.role) {
    case "user":
      return { role: "user", content: userBlocks(message.content, at) };
    case "assistant": {
      const content: Block[] = [];
      if (typeof message.content === "string") {
        if (message.content !== "") content.push({ type: "text", text: message.content });
      } else
        for (const part of (message.content ?? []) as Part[]) {
          const text = part.type === "refusal" ? String(part.refusal) : String(part.text ?? "");
          if (text !== "") content.push(marked({ type: "text", text }, part));
        }
      for (const call of message.tool_calls ?? []) {
        content.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments, `${at}.tool_calls`) });
      }
      return { role: "assistant", content };
    }
    case "tool": {
      const content = typeof message.content === "string" ? message.content : textBlocks(message.content, at);
      return { role: "user", content: [{ type: "tool_result", tool_use_id: message.tool_call_id, content }] };
    }
    case "function":
      return { role: "user", content: [{ type: "text", text: `${message.name}: ${message.content ?? ""}` }] };
    default:
      return undefined;
  }
}

function userBlocks(content: string | Part[], at: string): Block[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  return content.map((part, p) => {
    const where = `${at}.content[${p}]`;
    if (part.type === "text") return marked({ type: "text", text: part.text }, part);
    if (part.type === "image_url") return marked({ type: "image", source: imageSource((part.image_url as { url: string }).url) }, part);
    if (part.type === "file") return marked(documentBlock(part.file as Record<string, unknown>, where), part);
    throw refused(`${where}.type`, `Anthropic's models take no '${part.type}' content`);
  });
}

/** Text parts (a system message's, a tool's result), each keeping its breakpoint. */
function textBlocks(content: string | Part[], at: string): Block[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  return content.map((part, p) => {
    if (part.type !== "text") throw refused(`${at}.content[${p}].type`, `Anthropic takes only text here, not '${part.type}'`);
    return marked({ type: "text", text: part.text }, part);
  });
}

const marked = (block: Block, part: Part): Block => (part.cache_control ? { ...block, cache_control: part.cache_control } : block);

/** A data URL as a base64 source, any other URL as a URL source (Anthropic fetches it). */
function imageSource(url: string): Block {
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return data === null ? { type: "url", url } : { type: "base64", media_type: data[1], data: data[2] };
}

/** OpenAI's file part (a PDF as a data URL) as Anthropic's document block. */
function documentBlock(file: Record<string, unknown>, where: string): Block {
  const data = typeof file.file_data === "string" ? /^data:application\/pdf;base64,(.*)$/s.exec(file.file_data) : null;
  if (data === null) throw refused(`${where}.file`, "Anthropic takes files as PDFs in a base64 data URL ('file_data')");
  const block: Block = { type: "document", source: { type: "base64", media_type: "application/pdf", data: data[1] } };
  if (typeof file.filename === "string") block.title = file.filename;
  return block;
}

/** A tool call's arguments as the object Anthropic's `input` is. */
function toolInput(text: string, where: string): unknown {
  try {
    const value: unknown = JSON.parse(text === "" ? "{}" : text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  } catch {
    // refused below
  }
  throw refused(where, "a tool call's arguments must be a JSON object for Anthropic's models");
}

function refused(param: string, why: string): ApiError {
  return new ApiError(400, `'${param}': ${why}`, { param, code: "invalid_value" });
}
