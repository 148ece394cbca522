/**
 * The canonical (OpenAI chat) request as a Bedrock Converse body (pure). Converse keeps the
 * system prompt apart, wants user and assistant turns with typed content blocks (a tool's
 * result is a block of the user turn after the call), takes images and documents as base64
 * bytes, and marks prompt-cache breakpoints with a `cachePoint` block after the block cached.
 * What it cannot carry is refused with a 400 naming the field, never dropped in silence.
 */
import { type CacheControl, type CanonicalRequest, type Message, requestedOutputTokens } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";
import { anthropicBreakpoints, isAnthropicFamily, withoutBreakpoints } from "../breakpoints.ts";

/** The tool a JSON answer is asked through: Converse has no response format, so the schema becomes a forced tool's input. */
export const STRUCTURED_OUTPUT_TOOL = "structured_output";

type Block = Record<string, unknown>;
type Turn = { role: "user" | "assistant"; content: Block[] };
type Part = { type?: string; text?: string; cache_control?: CacheControl; image_url?: { url?: string }; file?: Record<string, unknown> };

/** Bedrock's image formats, by MIME type. */
const IMAGE_FORMATS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp" };
/** Bedrock's document formats, by MIME type. */
const DOCUMENT_FORMATS: Record<string, string> = {
  "application/pdf": "pdf",
  "text/csv": "csv",
  "application/msword": "doc",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "application/vnd.ms-excel": "xls",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
  "text/html": "html",
  "text/plain": "txt",
  "text/markdown": "md",
};
const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

/**
 * Models that take `cachePoint` blocks: Claude and Amazon Nova. Every other model gets none
 * (Bedrock answers a 400 to a cache point a model does not support).
 */
export const takesCachePoints = (upstreamModel: string): boolean => isAnthropicFamily(upstreamModel) || /amazon\.nova/i.test(upstreamModel);

/**
 * The Converse body for `request`. Breakpoints go where `breakpoints.ts` puts them for
 * Anthropic's models (the client's, or the router's own), each a `cachePoint` after its
 * block, with `ttl: "1h"` where the client asked for an hour. A JSON answer asked by
 * `response_format` is a forced call of `structured_output` whose input is the answer
 * (`converse-answer.ts` turns it back into text).
 * @throws ApiError 400 naming the field Converse cannot carry (`n` above 1, an image by URL, audio, a file by id).
 */
export function converseBody(request: CanonicalRequest, upstreamModel: string): Record<string, unknown> {
  if (typeof request.n === "number" && request.n > 1) throw refuse("n", "Bedrock's Converse API writes one answer: 'n' must be 1");
  if (request.logprobs === true) throw refuse("logprobs", "Bedrock's Converse API does not return log probabilities");
  const marks = takesCachePoints(upstreamModel) ? anthropicBreakpoints(request) : withoutBreakpoints(request);
  const system: Block[] = [];
  const turns: Turn[] = [];
  for (const [m, message] of marks.messages.entries()) {
    if (message.role === "system" || message.role === "developer") system.push(...textBlocks(message.content, `messages[${m}].content`));
    else addTurn(turns, message, m);
  }
  const body: Record<string, unknown> = { messages: turns };
  if (system.length > 0) body.system = system;
  const inference = inferenceConfig(request, upstreamModel);
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  // Nova takes cache points in the system prompt and the messages, not among the tools.
  const tools = toolConfig(
    request,
    isAnthropicFamily(upstreamModel) ? marks.tools : withoutBreakpoints({ messages: [], tools: marks.tools ?? [] }).tools,
    turns,
  );
  if (tools !== undefined) body.toolConfig = tools;
  return body;
}

function refuse(param: string, message: string): ApiError {
  return new ApiError(400, `'${param}': ${message}`, { param, code: "invalid_value" });
}

/** The block, then a cache point when the part carried a breakpoint. */
function withCachePoint(block: Block, mark: CacheControl | undefined): Block[] {
  if (mark === undefined) return [block];
  return [block, { cachePoint: mark.ttl === "1h" ? { type: "default", ttl: "1h" } : { type: "default" } }];
}

/** Text content (a string, or text parts) as text blocks; an empty text is left out, as Converse refuses it. */
function textBlocks(content: unknown, at: string): Block[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  if (!Array.isArray(content)) return [];
  return (content as Part[]).flatMap((part, p) => {
    if (part.type !== "text") throw refuse(`${at}[${p}].type`, `parts of type '${String(part.type)}' cannot go here at Bedrock`);
    return part.text === "" ? [] : withCachePoint({ text: part.text }, part.cache_control);
  });
}

/** Appends a message to the turns, merging it into the last turn when both are the user's (tool results and the text after them). */
function addTurn(turns: Turn[], message: Message, m: number): void {
  const at = `messages[${m}]`;
  let role: Turn["role"];
  let content: Block[];
  switch (message.role) {
    case "user":
      role = "user";
      content = userBlocks(message.content, `${at}.content`);
      break;
    case "assistant":
      role = "assistant";
      content = assistantBlocks(message, at);
      break;
    case "tool":
      role = "user";
      content = toolResult(message.tool_call_id, message.content);
      break;
    default:
      throw refuse(`${at}.role`, `messages of role '${message.role}' are not supported at Bedrock; send the result as a 'tool' message`);
  }
  const last = turns.at(-1);
  if (last !== undefined && last.role === role) last.content.push(...content);
  else turns.push({ role, content });
}

function userBlocks(content: Extract<Message, { role: "user" }>["content"], at: string): Block[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  return (content as Part[]).flatMap((part, p) => {
    const where = `${at}[${p}]`;
    switch (part.type) {
      case "text":
        return part.text === "" ? [] : withCachePoint({ text: part.text }, part.cache_control);
      case "image_url":
        return withCachePoint(image(part.image_url?.url ?? "", `${where}.image_url.url`), part.cache_control);
      case "file":
        return withCachePoint(document(part.file ?? {}, `${where}.file`), part.cache_control);
      default:
        throw refuse(`${where}.type`, `parts of type '${String(part.type)}' are not supported at Bedrock`);
    }
  });
}

/** An image from a data URL: Converse takes bytes, and fetching a URL is not the router's to do. */
function image(url: string, at: string): Block {
  const data = DATA_URL.exec(url);
  if (data === null) throw refuse(at, "Bedrock takes images as base64 data URLs (data:image/png;base64,...), not by URL");
  const format = IMAGE_FORMATS[data[1]!.toLowerCase()];
  if (format === undefined) throw refuse(at, `Bedrock takes png, jpeg, gif and webp images, not ${data[1]}`);
  return { image: { format, source: { bytes: data[2]! } } };
}

/** A document from OpenAI's file part (`file_data` as a data URL, `filename`). */
function document(file: Record<string, unknown>, at: string): Block {
  const data = typeof file.file_data === "string" ? DATA_URL.exec(file.file_data) : null;
  if (data === null) throw refuse(`${at}.file_data`, "Bedrock takes documents as base64 data URLs in 'file_data', not by file id");
  const format = DOCUMENT_FORMATS[data[1]!.toLowerCase()];
  if (format === undefined) throw refuse(`${at}.file_data`, `Bedrock does not take documents of type ${data[1]}`);
  return { document: { format, name: documentName(file.filename), source: { bytes: data[2]! } } };
}

/**
 * A name Bedrock accepts for a document: letters, digits, single spaces, hyphens,
 * parentheses and square brackets; the extension goes (the format says it).
 */
function documentName(filename: unknown): string {
  const bare = (typeof filename === "string" ? filename : "document").replace(/\.[A-Za-z0-9]+$/, "");
  const name = bare
    .replace(/[^A-Za-z0-9\s\-()[\]]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return name === "" ? "document" : name.slice(0, 200);
}

function assistantBlocks(message: Extract<Message, { role: "assistant" }>, at: string): Block[] {
  const blocks: Block[] = [];
  if (typeof message.content === "string") {
    if (message.content !== "") blocks.push({ text: message.content });
  } else if (Array.isArray(message.content)) {
    for (const part of message.content as Part[] & { refusal?: string }[]) {
      const text = part.type === "text" ? part.text : (part as { refusal?: string }).refusal;
      if (typeof text === "string" && text !== "") blocks.push(...withCachePoint({ text }, part.cache_control));
    }
  }
  for (const [c, call] of (message.tool_calls ?? []).entries()) {
    blocks.push({
      toolUse: { toolUseId: call.id, name: call.function.name, input: toolInput(call.function.arguments, `${at}.tool_calls[${c}].function.arguments`) },
    });
  }
  return blocks;
}

/** A call's arguments as the object Converse wants; empty arguments are no arguments. */
function toolInput(text: string, at: string): unknown {
  if (text.trim() === "") return {};
  try {
    const input: unknown = JSON.parse(text);
    if (typeof input === "object" && input !== null && !Array.isArray(input)) return input;
  } catch {
    // refused below
  }
  throw refuse(at, "must be a JSON object for Bedrock");
}

function toolResult(toolUseId: string, content: Extract<Message, { role: "tool" }>["content"]): Block[] {
  const parts: Part[] = typeof content === "string" ? [{ type: "text", text: content }] : (content as Part[]);
  const text = parts.map((part) => part.text ?? "").join("");
  const mark = parts.reduce<CacheControl | undefined>((found, part) => part.cache_control ?? found, undefined);
  // A result with no text still answers its call: Converse wants a content block.
  return withCachePoint({ toolResult: { toolUseId, content: [{ text: text === "" ? "(empty)" : text }] } }, typeof content === "string" ? undefined : mark);
}

/**
 * Converse's inference settings. Claude takes a temperature up to 1 where OpenAI's goes to
 * 2, so a higher one is sent as 1 (what OpenRouter does for Claude), not refused.
 */
function inferenceConfig(request: CanonicalRequest, upstreamModel: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const maxTokens = requestedOutputTokens(request);
  if (maxTokens !== undefined) config.maxTokens = maxTokens;
  if (typeof request.temperature === "number") config.temperature = isAnthropicFamily(upstreamModel) ? Math.min(request.temperature, 1) : request.temperature;
  if (typeof request.top_p === "number") config.topP = request.top_p;
  if (typeof request.stop === "string") config.stopSequences = [request.stop];
  else if (Array.isArray(request.stop) && request.stop.length > 0) config.stopSequences = request.stop;
  return config;
}

type Tool = NonNullable<CanonicalRequest["tools"]>[number];

/**
 * The tools, the choice among them, and the structured-output tool. Converse has no
 * `none`: the tools are left out then, unless the history holds calls or results, which
 * Converse refuses without a `toolConfig`; then the model may still call one.
 */
function toolConfig(request: CanonicalRequest, tools: Tool[] | undefined, turns: Turn[]): Record<string, unknown> | undefined {
  const specs: Block[] = [];
  for (const tool of tools ?? []) {
    const spec = { name: tool.function.name, inputSchema: { json: tool.function.parameters ?? { type: "object", properties: {} } } };
    specs.push(...withCachePoint({ toolSpec: tool.function.description ? { ...spec, description: tool.function.description } : spec }, tool.cache_control));
  }
  const structured = structuredTool(request);
  const clientTools = specs.length > 0;
  if (structured !== undefined) {
    if ((tools ?? []).some((tool) => tool.function.name === STRUCTURED_OUTPUT_TOOL)) {
      throw refuse("tools", `a tool may not be named '${STRUCTURED_OUTPUT_TOOL}' when 'response_format' asks for JSON: Bedrock's JSON answers use that name`);
    }
    specs.push({ toolSpec: structured });
  }
  const choice = request.tool_choice;
  const historyHasTools = turns.some((turn) => turn.content.some((block) => "toolUse" in block || "toolResult" in block));
  if (specs.length === 0) return undefined;
  if (choice === "none" && structured === undefined && !historyHasTools) return undefined;
  const config: Record<string, unknown> = { tools: specs };
  if (typeof choice === "object" && choice !== null) config.toolChoice = { tool: { name: choice.function.name } };
  else if (structured !== undefined) config.toolChoice = clientTools && choice !== "none" ? { any: {} } : { tool: { name: STRUCTURED_OUTPUT_TOOL } };
  else if (choice === "required") config.toolChoice = { any: {} };
  else if (choice === "auto") config.toolChoice = { auto: {} };
  return config;
}

/** The structured-output tool's spec when the request asks for a JSON answer. */
function structuredTool(request: CanonicalRequest): Record<string, unknown> | undefined {
  const format = request.response_format;
  if (format?.type === "json_schema") {
    const schema = (format.json_schema as { schema?: unknown; description?: unknown }).schema;
    const described = (format.json_schema as { description?: unknown }).description;
    return {
      name: STRUCTURED_OUTPUT_TOOL,
      description: typeof described === "string" ? described : `Answer with the ${format.json_schema.name} object: the whole answer goes in this call's input.`,
      inputSchema: { json: typeof schema === "object" && schema !== null ? schema : { type: "object" } },
    };
  }
  if (format?.type === "json_object") {
    return {
      name: STRUCTURED_OUTPUT_TOOL,
      description: "Answer with a JSON object: the whole answer goes in this call's input.",
      inputSchema: { json: { type: "object" } },
    };
  }
  return undefined;
}
