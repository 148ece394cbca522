/**
 * OpenAI's Responses request (`POST /v1/responses`), read and mapped into the canonical
 * chat request: `instructions` and message items become chat messages, their parts
 * become chat parts, `function_call` and `function_call_output` items become tool calls
 * and tool messages (call ids kept), and the parameters take their Chat Completions
 * names. A hosted tool (file search, computer use, code interpreter, …) is refused
 * with a 400 naming it; what no target here can honour otherwise (a web search among them) is dropped and
 * named in `dropped`, for the `x-tiergate-dropped` header: never a silent change of meaning.
 */
import * as z from "zod";
import { type CanonicalRequest, FunctionName, type Message, refuseUnkeptToolChoice } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";

const Part = z.looseObject({ type: z.string() });
const Content = z.union([z.string(), z.array(Part)]);
/** An input item: a message (typed, or the easy form with a role alone), a call, its output, reasoning. */
const Item = z.looseObject({ type: z.string().optional(), role: z.string().optional() });
type Item = z.infer<typeof Item>;

const Tool = z.looseObject({ type: z.string() });
const Format = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullish(),
    description: z.string().optional(),
  }),
]);

export const ResponsesRequestSchema = z.looseObject({
  model: z.string().min(1).default("auto"),
  input: z.union([z.string().min(1), z.array(Item).min(1, "input must hold at least one item")]),
  instructions: z.string().nullish(),
  tools: z.array(Tool).max(128).optional(),
  tool_choice: z.union([z.enum(["auto", "none", "required"]), z.looseObject({ type: z.string(), name: z.string().optional() })]).optional(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: Format.optional(), verbosity: z.string().nullish() }).optional(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish(), summary: z.string().nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().max(256).nullish(),
  safety_identifier: z.string().max(256).nullish(),
  prompt_cache_key: z.string().max(256).nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>;

/** Fields of a Responses request the router reads; any other top-level field is named in `dropped`. */
const KNOWN = new Set(Object.keys(ResponsesRequestSchema.shape));
/** Fields that change nothing a target here does, dropped without a note: what to return (there is no encrypted reasoning to), the client's own tags. */
const IGNORED = new Set(["include", "client_metadata", "service_tier", "truncation", "stream_options", "prompt_cache_retention"]);

/** The tool types OpenAI runs on its own servers: refused, since no target here runs them. */
const HOSTED = /^(web_search|file_search|computer_use|code_interpreter|image_generation|mcp|local_shell)/;

/** The canonical request, what was dropped, and the chat messages of this request's input (what a stored response keeps of it). */
export type Mapped = { request: CanonicalRequest; dropped: string[]; input: Message[] };

/** The canonical request for a Responses request, and what was dropped. `history` holds a continued response's turns, which come first. */
export function toCanonical(body: ResponsesRequest, history: readonly Message[] = []): Mapped {
  const dropped = new Set<string>();
  for (const field of Object.keys(body)) if (!KNOWN.has(field) && !IGNORED.has(field)) dropped.add(field);
  if (body.background === true) {
    throw new ApiError(400, "'background': this router answers in the request; background responses are not supported", { param: "background" });
  }
  // A continuation's instructions are its own: the previous response's are not carried over, as OpenAI has it.
  const input: Message[] = [...history];
  if (typeof body.input === "string") input.push({ role: "user", content: body.input });
  else for (const [i, item] of body.input.entries()) addItem(input, item, `input[${i}]`, dropped);
  const messages: Message[] = body.instructions ? [{ role: "system", content: body.instructions }, ...input] : input;
  const request: CanonicalRequest = { model: body.model, messages };
  if (body.max_output_tokens != null) request.max_tokens = body.max_output_tokens;
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.top_p = body.top_p;
  if (body.parallel_tool_calls != null) request.parallel_tool_calls = body.parallel_tool_calls;
  const user = body.safety_identifier ?? body.user;
  if (user) request.user = user;
  // A provider-side prompt cache hint: passed on as it is named, as any unknown field is (src/canonical/request.ts).
  if (body.prompt_cache_key) request.prompt_cache_key = body.prompt_cache_key;
  if (body.reasoning != null && (body.reasoning.effort != null || body.reasoning.summary != null)) dropped.add("reasoning");
  if (body.text?.verbosity != null) dropped.add("text.verbosity");
  const format = body.text?.format;
  if (format?.type === "json_object") request.response_format = { type: "json_object" };
  if (format?.type === "json_schema") {
    const { name, schema, strict, description } = format;
    request.response_format = {
      type: "json_schema",
      json_schema: { name, schema, ...(strict == null ? {} : { strict }), ...(description ? { description } : {}) },
    };
  }
  const tools = (body.tools ?? []).flatMap((definition, i) => tool(definition, `tools[${i}]`, dropped));
  if (tools.length > 0) request.tools = tools;
  if (body.tool_choice !== undefined) {
    request.tool_choice = toolChoice(body.tool_choice);
    refuseUnkeptToolChoice(request);
  }
  if (body.stream === true) {
    request.stream = true;
    request.stream_options = { include_usage: true };
  }
  return { request, dropped: [...dropped], input: input.slice(history.length) };
}

type ToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };

/** One input item, appended as chat messages: consecutive calls join one assistant message, as Chat Completions has them. */
function addItem(messages: Message[], item: Item, at: string, dropped: Set<string>): void {
  const type = item.type ?? (item.role === undefined ? undefined : "message");
  switch (type) {
    case "message":
      messages.push(message(item, at));
      return;
    case "function_call":
    case "custom_tool_call": {
      const call = field(item, at, "call_id");
      // A custom tool's free-form input travels as the one string argument its function takes (see `tool`).
      const args = type === "custom_tool_call" ? JSON.stringify({ input: field(item, at, "input") }) : String(item.arguments ?? "{}");
      const entry: ToolCall = { id: call, type: "function", function: { name: field(item, at, "name"), arguments: args } };
      const last = messages.at(-1);
      if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), entry];
      else messages.push({ role: "assistant", content: null, tool_calls: [entry] });
      return;
    }
    case "function_call_output":
    case "custom_tool_call_output": {
      // Codex reports its own `agent` namespace's tools (after create_goal, `goal_objective`) as outputs answering
      // no call: no target here has the call they would follow, so they go as namespace tools do, with a note.
      if (item.call_id === undefined && typeof item.namespace === "string") {
        dropped.add(`${item.namespace}.${typeof item.name === "string" ? item.name : "(unnamed)"} output without a call_id`);
        return;
      }
      const call = field(item, at, "call_id");
      const output = item.output;
      if (typeof output === "string") {
        messages.push({ role: "tool", tool_call_id: call, content: output || "(empty)" });
        return;
      }
      if (!Array.isArray(output)) throw new ApiError(400, `'${at}.output' must be a string or an array of content parts`, { param: `${at}.output` });
      const parts = output.map((part, p) => inputPart(contentPart(part, `${at}.output[${p}]`), `${at}.output[${p}]`));
      const text = parts.filter((part) => part.type === "text").map((part) => String(part.text));
      messages.push({ role: "tool", tool_call_id: call, content: text.join("\n") || "(empty)" });
      // Chat's tool messages carry text only: what else the output held follows as the user's.
      const media = parts.filter((part) => part.type !== "text");
      if (media.length > 0) messages.push({ role: "user", content: media } as Message);
      return;
    }
    case "reasoning":
      // No target here takes reasoning back (encrypted or summarised); the answer it led to stays in the history.
      dropped.add("reasoning items in the history");
      return;
    default:
      throw new ApiError(400, `'${at}.type': input items of type '${type ?? "(none)"}' are not supported here`, { param: `${at}.type` });
  }
}

function message(item: Item, at: string): Message {
  const role = item.role;
  if (role !== "user" && role !== "assistant" && role !== "system" && role !== "developer") {
    throw new ApiError(400, `'${at}.role' must be user, assistant, system or developer`, { param: `${at}.role` });
  }
  const parsed = Content.safeParse(item.content);
  if (!parsed.success) throw new ApiError(400, `'${at}.content' must be a string or an array of content parts`, { param: `${at}.content` });
  const content = parsed.data;
  if (typeof content === "string") return { role, content } as Message;
  const parts = content.map((part, p) => (role === "assistant" ? outputPart(part, `${at}.content[${p}]`) : inputPart(part, `${at}.content[${p}]`)));
  if (role === "user") return { role, content: parts } as Message;
  if (parts.some((part) => part.type !== "text")) {
    throw new ApiError(400, `'${at}.content': only text parts are supported in a ${role} message`, { param: `${at}.content` });
  }
  if (role === "assistant") return { role, content: parts.map((part) => String(part.text)).join("") };
  return { role, content: parts } as Message;
}

/** A user part as a chat part: text, an image by URL or data URL, a file by its data. */
function inputPart(part: z.infer<typeof Part>, at: string): Record<string, unknown> {
  switch (part.type) {
    case "input_text":
      return { type: "text", text: field(part, at, "text") };
    case "input_image": {
      if (typeof part.image_url !== "string") noFileIds(at, "an image by 'image_url'");
      const detail = part.detail;
      return { type: "image_url", image_url: { url: part.image_url, ...(detail === "low" || detail === "high" || detail === "auto" ? { detail } : {}) } };
    }
    case "input_file": {
      if (typeof part.file_data !== "string") noFileIds(at, "a file by 'file_data'");
      return { type: "file", file: { filename: typeof part.filename === "string" ? part.filename : "file", file_data: part.file_data } };
    }
    default:
      throw new ApiError(400, `'${at}.type': content parts of type '${part.type}' are not supported here`, { param: `${at}.type` });
  }
}

/** An assistant part of the history: its text (a refusal is what the model said). */
function outputPart(part: z.infer<typeof Part>, at: string): Record<string, unknown> {
  if (part.type === "output_text" || part.type === "input_text") return { type: "text", text: field(part, at, "text") };
  if (part.type === "refusal") return { type: "text", text: field(part, at, "refusal") };
  throw new ApiError(400, `'${at}.type': content parts of type '${part.type}' are not supported in an assistant message`, { param: `${at}.type` });
}

/** A content part as sent: an object with a `type`, or a 400 naming where it is not. */
function contentPart(part: unknown, at: string): z.infer<typeof Part> {
  const parsed = Part.safeParse(part);
  if (!parsed.success) throw new ApiError(400, `'${at}' must be a content part: an object with a 'type'`, { param: at });
  return parsed.data;
}

function noFileIds(at: string, what: string): never {
  throw new ApiError(400, `'${at}': this router has no Files API; send ${what}`, { param: at });
}

function field(value: Record<string, unknown>, at: string, name: string): string {
  const found = value[name];
  if (typeof found !== "string") throw new ApiError(400, `'${at}.${name}' is required and must be a string`, { param: `${at}.${name}` });
  return found;
}

/**
 * A Responses tool as chat tools: a function as itself; a custom (free-form) tool as a
 * function of one string, `input` (its grammar written into the description; the answer
 * turns the call back into a `custom_tool_call`); a namespace (Codex's sub-agent tools),
 * Codex's `tool_search` over its deferred tools and a web search (which Codex offers on
 * every request, cached or live) dropped
 * with a note, since no target here runs them and a model may answer without them; any
 * other hosted tool refused, since a request that offers one means the model to use it.
 */
function tool(definition: z.infer<typeof Tool>, at: string, dropped: Set<string>): NonNullable<CanonicalRequest["tools"]> {
  const name = typeof definition.name === "string" ? definition.name : undefined;
  if (definition.type === "function") {
    const fn: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean } = {
      name: functionName(name, at),
      parameters: (definition.parameters as Record<string, unknown> | undefined) ?? { type: "object", properties: {} },
    };
    if (typeof definition.description === "string") fn.description = definition.description;
    if (typeof definition.strict === "boolean") fn.strict = definition.strict;
    return [{ type: "function", function: fn }];
  }
  if (definition.type === "custom") {
    const format = definition.format as { type?: string; syntax?: string; definition?: string } | undefined;
    const grammar =
      format?.type === "grammar" && typeof format.definition === "string" ? ` It follows this ${format.syntax ?? ""} grammar:\n${format.definition}` : "";
    const input = { type: "string", description: `The tool's whole input, as free text, not JSON.${grammar}` };
    const description = typeof definition.description === "string" ? definition.description : undefined;
    const fn = { name: functionName(name, at), parameters: { type: "object", properties: { input }, required: ["input"], additionalProperties: false } };
    return [{ type: "function", function: description === undefined ? fn : { ...fn, description } }];
  }
  if (definition.type === "namespace" || definition.type === "tool_search") {
    dropped.add(definition.type === "tool_search" ? "tool_search" : `namespace tool ${name ?? ""}`.trim());
    return [];
  }
  if (definition.type === "web_search") {
    dropped.add("web_search");
    return [];
  }
  const hosted = HOSTED.test(definition.type);
  throw new ApiError(
    400,
    hosted
      ? `The tool type '${definition.type}' runs only on OpenAI's servers; this router serves function tools`
      : `The tool type '${definition.type}' is not supported here; this router serves function tools`,
    { param: `${at}.type`, code: "unsupported_tool" },
  );
}

/** A tool's name as the targets' functions take it (the canonical schema's rule). */
function functionName(name: string | undefined, at: string): string {
  if (name === undefined || !FunctionName.safeParse(name).success) {
    throw new ApiError(400, `'${at}.name' is required: letters, digits, _ and -, at most 64`, { param: `${at}.name` });
  }
  return name;
}

function toolChoice(choice: NonNullable<ResponsesRequest["tool_choice"]>): CanonicalRequest["tool_choice"] {
  if (typeof choice === "string") return choice;
  if ((choice.type === "function" || choice.type === "custom") && choice.name !== undefined) return { type: "function", function: { name: choice.name } };
  throw new ApiError(400, `'tool_choice': a choice of type '${choice.type}' is not supported here; name a function, or use auto, none or required`, {
    param: "tool_choice",
  });
}
