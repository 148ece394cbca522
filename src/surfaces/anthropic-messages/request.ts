/**
 * Anthropic's Messages request (`POST /v1/messages`), read and mapped into the canonical
 * chat request: the system prompt and the turns become chat messages, content blocks
 * become parts, `tool_use` and `tool_result` become tool calls and tool messages (ids
 * kept), and the parameters take their Chat Completions names. What no target here can
 * honour is refused with a 400 naming it, or dropped and named in `dropped`, for the
 * `x-tiergate-dropped` header: never a silent change of meaning.
 */
import * as z from "zod";
import {
  type CacheControl,
  CacheControlSchema,
  type CanonicalRequest,
  FunctionName,
  longerBreakpoint,
  type Message,
  refuseUnkeptToolChoice,
} from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";
import { refuseBreakpointsPastLimit } from "./breakpoints.ts";

const Mark = CacheControlSchema.nullish();
const TextBlock = z.looseObject({ type: z.literal("text"), text: z.string(), cache_control: Mark });
const ImageSource = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("base64"), media_type: z.string().min(1), data: z.string().min(1) }),
  z.looseObject({ type: z.literal("url"), url: z.string().min(1) }),
]);
const ImageBlock = z.looseObject({ type: z.literal("image"), source: ImageSource, cache_control: Mark });
const DocumentBlock = z.looseObject({
  type: z.literal("document"),
  source: z.looseObject({ type: z.string(), media_type: z.string().optional(), data: z.string().optional(), url: z.string().optional() }),
  title: z.string().nullish(),
  cache_control: Mark,
});
const ToolUseBlock = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.unknown(),
  cache_control: Mark,
});
const ToolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.union([TextBlock, ImageBlock, DocumentBlock]))]).optional(),
  is_error: z.boolean().optional(),
  cache_control: Mark,
});
const ThinkingBlock = z.looseObject({ type: z.literal("thinking"), thinking: z.string() });
const RedactedThinkingBlock = z.looseObject({ type: z.literal("redacted_thinking"), data: z.string() });
const KnownBlock = z.discriminatedUnion("type", [TextBlock, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]);
const READ_TYPES: ReadonlySet<string> = new Set(KnownBlock.options.map((option) => option.shape.type.value));
/**
 * Any other block type: refused by name, below, rather than with a schema error. A known
 * type that failed its schema is not one, so the error names the field that failed.
 */
const OtherBlock = z.looseObject({ type: z.string() }).refine((block) => !READ_TYPES.has(block.type), { abort: true });
const Block = z.union([KnownBlock, OtherBlock]);
type Block = z.infer<typeof Block>;

const Content = z.union([z.string(), z.array(Block)]);

const Tool = z.looseObject({
  type: z.string().optional(),
  name: FunctionName,
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  cache_control: Mark,
});

export const MessagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  // Claude Code sends `system` inside `messages` too: taken where it stands.
  messages: z.array(z.looseObject({ role: z.enum(["user", "assistant", "system"]), content: Content })).min(1, "messages must hold at least one message"),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().max(256).nullish() }).optional(),
  tools: z.array(Tool).max(128).optional(),
  tool_choice: z
    .looseObject({ type: z.enum(["auto", "any", "tool", "none"]), name: z.string().optional(), disable_parallel_tool_use: z.boolean().optional() })
    .optional(),
  thinking: z.looseObject({ type: z.string(), budget_tokens: z.number().int().optional() }).optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;
/** `POST /v1/messages/count_tokens` takes the same body, without `max_tokens`. */
export const CountTokensSchema = MessagesRequestSchema.extend({ max_tokens: z.number().int().positive().optional() });

/** The most stop sequences the targets here take (OpenAI's `stop`). */
const MAX_STOPS = 4;

/** Fields of a Messages request the router reads; any other top-level field is named in `dropped`. */
const KNOWN = new Set(Object.keys(MessagesRequestSchema.shape));
/** Fields that change nothing a target here does, dropped without a note. */
const IGNORED = new Set(["service_tier", "container", "context_management"]);

export type Mapped = { request: CanonicalRequest; dropped: string[] };

/**
 * The canonical request for a Messages request. `maxTokens` caps `max_tokens` (which
 * Claude Code sets to 128,000 on every turn: a ceiling, not a need; routing and budgets
 * reserve what it says).
 */
export function toCanonical(body: MessagesRequest | z.infer<typeof CountTokensSchema>, maxTokens: number): Mapped {
  refuseBreakpointsPastLimit(body);
  const dropped = new Set<string>();
  // A field this router does not know is dropped and named: newer clients send betas' fields on every request.
  for (const field of Object.keys(body)) if (!KNOWN.has(field) && !IGNORED.has(field)) dropped.add(field);
  const messages: Message[] = [];
  if (body.system !== undefined) messages.push(systemMessage(body.system));
  for (const [i, message] of body.messages.entries()) messages.push(...turn(message.role, message.content, `messages[${i}]`, dropped));
  const asked = body.max_tokens ?? maxTokens;
  const request: CanonicalRequest = { model: body.model, messages, max_tokens: Math.min(asked, maxTokens) };
  if (asked > maxTokens) dropped.add(`max_tokens above ${maxTokens}`);
  if (body.stop_sequences !== undefined && body.stop_sequences.length > 0) {
    if (body.stop_sequences.length > MAX_STOPS) {
      throw new ApiError(400, `'stop_sequences': at most ${MAX_STOPS} are supported by the models this router serves`, { param: "stop_sequences" });
    }
    request.stop = body.stop_sequences;
  }
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.top_p = body.top_p;
  if (body.top_k !== undefined) dropped.add("top_k");
  if (body.thinking !== undefined && body.thinking.type !== "disabled") dropped.add("thinking");
  if (body.stream === true) {
    request.stream = true;
    request.stream_options = { include_usage: true };
  }
  if (body.metadata?.user_id) request.user = body.metadata.user_id;
  if (body.tools !== undefined && body.tools.length > 0) request.tools = body.tools.map(tool);
  if (body.tool_choice !== undefined) {
    const choice = body.tool_choice;
    if (choice.type === "tool") {
      if (choice.name === undefined) throw new ApiError(400, "'tool_choice.name' is required when its type is 'tool'", { param: "tool_choice.name" });
      request.tool_choice = { type: "function", function: { name: choice.name } };
    } else request.tool_choice = choice.type === "any" ? "required" : choice.type;
    if (choice.disable_parallel_tool_use === true) request.parallel_tool_calls = false;
    refuseUnkeptToolChoice(request);
  }
  return { request, dropped: [...dropped] };
}

function systemMessage(system: string | z.infer<typeof TextBlock>[]): Message {
  return { role: "system", content: typeof system === "string" ? system : system.map(textPart) };
}

/** One Messages turn as chat messages: tool results first (each its own tool message), then the rest of the turn. */
function turn(role: "user" | "assistant" | "system", content: string | Block[], at: string, dropped: Set<string>): Message[] {
  if (typeof content === "string") return [{ role, content } as Message];
  if (role === "system") return [{ role, content: content.map((block, b) => textPart(asText(block, `${at}.content[${b}]`))) }];
  const parts: Record<string, unknown>[] = [];
  const toolCalls: { id: string; type: "function"; function: { name: string; arguments: string } }[] = [];
  const results: Message[] = [];
  const resultImages: Record<string, unknown>[] = [];
  /** A breakpoint on a tool_use block: a tool call has no place for one, so it marks the assistant message (providers/breakpoints.ts moves it). */
  let callMark: CacheControl | undefined;
  content.forEach((block, b) => {
    const where = `${at}.content[${b}]`;
    switch (block.type) {
      case "text":
        parts.push(textPart(block as z.infer<typeof TextBlock>));
        return;
      case "image":
      case "document":
        if (role !== "user") refuseBlock(block.type, where, "in an assistant turn");
        parts.push(mediaPart(block as z.infer<typeof ImageBlock> | z.infer<typeof DocumentBlock>, where));
        return;
      case "tool_use": {
        if (role !== "assistant") refuseBlock(block.type, where, "outside an assistant turn");
        const use = block as z.infer<typeof ToolUseBlock>;
        if (use.cache_control) callMark = use.cache_control;
        toolCalls.push({ id: use.id, type: "function", function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } });
        return;
      }
      case "tool_result": {
        if (role !== "user") refuseBlock(block.type, where, "outside a user turn");
        results.push(toolMessage(block as z.infer<typeof ToolResultBlock>, where, resultImages));
        return;
      }
      case "thinking":
      case "redacted_thinking":
        // Earlier thinking cannot be handed to the targets here; the answer it led to stays in the history.
        dropped.add("thinking blocks in the history");
        return;
      default:
        refuseBlock(block.type, where, "");
    }
  });
  const messages: Message[] = [...results];
  // Images a tool returned: OpenAI's tool messages carry text only, so they follow as the user's.
  if (resultImages.length > 0) messages.push({ role: "user", content: resultImages } as Message);
  if (role === "assistant") {
    const text = parts.map((part) => String(part.text)).join("");
    // Text blocks stay parts where one carries a breakpoint; else they are one string, as OpenAI's clients send it.
    const marked = parts.some((part) => part.cache_control) ? parts.filter((part) => part.text !== "") : [];
    const content = marked.length > 0 ? marked : text === "" ? null : text;
    if (text !== "" || toolCalls.length > 0)
      messages.push({
        role: "assistant",
        content,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        ...(callMark ? { cache_control: callMark } : {}),
      } as Message);
  } else if (parts.length > 0) messages.push({ role: "user", content: parts } as Message);
  return messages;
}

/**
 * A `tool_result` as a tool message. Its text is one string, as OpenAI's clients send
 * it, unless the result or a block inside it carries a breakpoint: then the content is a
 * list of text parts, each inner breakpoint on its part and the result's own on the last
 * (the end of the result). Images and documents a tool returned follow the tool messages
 * as the user's (OpenAI's tool messages carry text only); a breakpoint on one of them
 * stays with the result, on its last text part, since the image no longer stands where
 * the result did.
 */
function toolMessage(result: z.infer<typeof ToolResultBlock>, where: string, media: Record<string, unknown>[]): Message {
  const parts: { type: "text"; text: string; cache_control?: CacheControl }[] = [];
  let mark = result.cache_control ?? undefined;
  if (typeof result.content === "string") parts.push({ type: "text", text: result.content });
  else
    (result.content ?? []).forEach((inner, i) => {
      if (inner.type === "text") parts.push(textPart(inner as z.infer<typeof TextBlock>));
      else {
        const { cache_control, ...part } = mediaPart(inner as z.infer<typeof ImageBlock>, `${where}.content[${i}]`);
        media.push(part);
        if (cache_control) mark = longerBreakpoint(mark, cache_control as CacheControl);
      }
    });
  const error = result.is_error === true;
  if (!mark && !parts.some((part) => part.cache_control)) {
    const text = parts.map((part) => part.text).join("\n");
    return { role: "tool", tool_call_id: result.tool_use_id, content: error ? `Error: ${text}` : text || "(empty)" };
  }
  // Anthropic refuses an empty text block: an empty result reads as OpenAI's clients see it.
  const kept = parts.filter((part) => part.text !== "");
  if (kept.length === 0) kept.push({ type: "text", text: "(empty)" });
  if (error) kept.unshift({ type: "text", text: "Error:" });
  if (mark) kept[kept.length - 1] = { ...kept[kept.length - 1]!, cache_control: longerBreakpoint(kept[kept.length - 1]!.cache_control, mark) };
  return { role: "tool", tool_call_id: result.tool_use_id, content: kept };
}

/** A text part, with its `cache_control` kept: OpenRouter passes it on to Anthropic's models. */
function textPart(block: z.infer<typeof TextBlock>): { type: "text"; text: string; cache_control?: CacheControl } {
  return block.cache_control ? { type: "text", text: block.text, cache_control: block.cache_control } : { type: "text", text: block.text };
}

function asText(block: Block, where: string): z.infer<typeof TextBlock> {
  if (block.type !== "text") refuseBlock(block.type, where, "in a system message");
  return block as z.infer<typeof TextBlock>;
}

function mediaPart(block: z.infer<typeof ImageBlock> | z.infer<typeof DocumentBlock>, where: string): Record<string, unknown> {
  const source = block.source as Record<string, string | undefined>;
  const mark = block.cache_control ? { cache_control: block.cache_control } : {};
  if (block.type === "image") {
    const url = source.type === "base64" ? `data:${source.media_type};base64,${source.data}` : source.url;
    return { type: "image_url", image_url: { url }, ...mark };
  }
  if (source.type === "text" && source.data !== undefined) return { type: "text", text: source.data, ...mark };
  if (source.type === "base64" && source.media_type === "application/pdf" && source.data !== undefined) {
    return {
      type: "file",
      file: { filename: `${(block.title as string | undefined) ?? "document"}.pdf`, file_data: `data:application/pdf;base64,${source.data}` },
      ...mark,
    };
  }
  throw new ApiError(400, `'${where}.source': a document must be a base64 PDF or plain text here (not '${source.type}')`, {
    param: `${where}.source`,
  });
}

function tool(definition: z.infer<typeof Tool>): NonNullable<CanonicalRequest["tools"]>[number] {
  // Anthropic's server tools (web search, code execution, bash, the text editor, computer use) run at Anthropic alone.
  if (definition.type !== undefined && definition.type !== "custom") {
    throw new ApiError(400, `The tool type '${definition.type}' ('${definition.name}') runs only on Anthropic's servers; this router serves custom tools`, {
      param: "tools",
      code: "unsupported_tool",
    });
  }
  const fn: { name: string; description?: string; parameters: Record<string, unknown> } = {
    name: definition.name,
    parameters: definition.input_schema ?? { type: "object", properties: {} },
  };
  if (definition.description !== undefined) fn.description = definition.description;
  return definition.cache_control ? { type: "function", function: fn, cache_control: definition.cache_control } : { type: "function", function: fn };
}

function refuseBlock(type: string, where: string, context: string): never {
  throw new ApiError(400, `'${where}': content blocks of type '${type}' are not supported${context === "" ? "" : ` ${context}`}`, {
    param: `${where}.type`,
  });
}
