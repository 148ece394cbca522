/**
 * The canonical chat request: what every API surface parses its requests into, and all
 * that routing, the cache key, limits, budgets and the audit see. It is OpenAI's chat
 * completions body, the format every provider here speaks; the Chat Completions surface
 * takes it as sent, and other surfaces map theirs into it.
 */
import * as z from "zod";
import { ApiError } from "../http/errors.ts";

/**
 * A prompt-cache breakpoint (Anthropic's `cache_control`, which OpenRouter passes on to
 * Anthropic's models): the prompt up to and including the block that carries it is
 * cached, for 5 minutes unless `ttl` says 1 hour. `ephemeral` is the one type there is.
 */
export const CacheControlSchema = z.looseObject({ type: z.literal("ephemeral"), ttl: z.enum(["5m", "1h"]).optional() });
export type CacheControl = z.infer<typeof CacheControlSchema>;
/** The most breakpoints one request may set: Anthropic's limit, which it answers a 400 past. */
export const MAX_BREAKPOINTS = 4;

const Breakpoint = { cache_control: CacheControlSchema.optional() };
const TextPart = z.looseObject({ type: z.literal("text"), text: z.string(), ...Breakpoint });
const ImagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(["auto", "low", "high"]).optional() }),
  ...Breakpoint,
});
const AudioPart = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
  ...Breakpoint,
});
const FilePart = z.looseObject({ type: z.literal("file"), file: z.looseObject({}), ...Breakpoint });
const RefusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

const UserContent = z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, ImagePart, AudioPart, FilePart])).min(1)]);
const TextContent = z.union([z.string(), z.array(TextPart).min(1)]);

const ToolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

/** A breakpoint on a message as a whole (LiteLLM's form, and a tool message whose content is a string) marks its last part. */
export const MessageSchema = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content: TextContent, name: z.string().optional(), ...Breakpoint }),
  z.looseObject({ role: z.literal("developer"), content: TextContent, name: z.string().optional(), ...Breakpoint }),
  z.looseObject({ role: z.literal("user"), content: UserContent, name: z.string().optional(), ...Breakpoint }),
  z.looseObject({
    role: z.literal("assistant"),
    content: z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, RefusalPart]))]).nullish(),
    tool_calls: z.array(ToolCall).optional(),
    name: z.string().optional(),
    ...Breakpoint,
  }),
  z.looseObject({ role: z.literal("tool"), content: TextContent, tool_call_id: z.string().min(1), ...Breakpoint }),
  z.looseObject({ role: z.literal("function"), content: z.string().nullable(), name: z.string().min(1) }),
]);
export type Message = z.infer<typeof MessageSchema>;

/** A function's name, as the providers here take it; every surface's tools are held to it. */
export const FunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64");

const Tool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: FunctionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
  ...Breakpoint,
});

/** No tool, the model's pick, some tool (`required`), or the one function named, which must be among the request's tools. */
const ToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: FunctionName }) }),
]);

const ResponseFormat = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({ type: z.literal("json_schema"), json_schema: z.looseObject({ name: z.string() }) }),
]);

const Penalty = z.number().min(-2).max(2);

/** Unknown top-level fields pass through to the provider (OpenRouter's `provider`, say). */
export const CanonicalRequestSchema = z
  .looseObject({
    model: z.string().min(1).default("auto"),
    messages: z.array(MessageSchema).min(1, "messages must hold at least one message"),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    n: z.number().int().min(1).max(128).nullish(),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
    presence_penalty: Penalty.nullish(),
    frequency_penalty: Penalty.nullish(),
    seed: z.number().int().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
    tools: z.array(Tool).max(128).nullish(),
    tool_choice: ToolChoice.nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: ResponseFormat.nullish(),
    user: z.string().max(256).nullish(),
    /** OpenAI's hint of which cached prefix to route to; the session's key when the client sets none. */
    prompt_cache_key: z.string().min(1).max(256).nullish(),
  })
  .check((context) => {
    const past = breakpoints(context.value)[MAX_BREAKPOINTS];
    if (past !== undefined) context.issues.push({ code: "custom", message: tooManyBreakpoints, path: past.path, input: context.value });
    const unkept = unkeptToolChoice(context.value);
    if (unkept !== undefined) context.issues.push({ code: "custom", ...unkept, input: context.value });
  });
export type CanonicalRequest = z.infer<typeof CanonicalRequestSchema>;

/**
 * A tool choice no answer could keep: a call asked for (`required`, or a function named)
 * with no tools to call, or a function named that is not among them. A provider that
 * takes it anyway answers a 200 without the call the client forced, or with another
 * tool's, so it is refused here, naming the choice. Reads defensively, as `breakpoints` does.
 */
function unkeptToolChoice(request: Pick<CanonicalRequest, "tools" | "tool_choice">): { message: string; path: string[] } | undefined {
  const choice = request.tool_choice;
  if (choice !== "required" && (typeof choice !== "object" || choice === null)) return undefined;
  const names = (Array.isArray(request.tools) ? request.tools : []).map((tool) => tool?.function?.name);
  if (names.length === 0) return { message: "asks for a tool call, but the request has no 'tools'", path: ["tool_choice"] };
  const named = typeof choice === "object" ? choice.function?.name : undefined;
  if (typeof named === "string" && !names.includes(named))
    return { message: `names '${named}', which is not among 'tools'`, path: ["tool_choice", "function", "name"] };
  return undefined;
}

/**
 * The same rule for the Messages and Responses surfaces, whose requests are built, not
 * parsed by this schema: their forced call (`any`, `required`, a tool named) must be one
 * their tools can make.
 * @throws ApiError 400 naming `tool_choice`, or `tool_choice.name` for a name not among the tools.
 */
export function refuseUnkeptToolChoice(request: Pick<CanonicalRequest, "tools" | "tool_choice">): void {
  const unkept = unkeptToolChoice(request);
  if (unkept === undefined) return;
  const param = unkept.path.length > 1 ? "tool_choice.name" : "tool_choice";
  throw new ApiError(400, `'${param}' ${unkept.message}`, { param, code: "invalid_value" });
}

/**
 * The largest number of tokens the request lets the model write, if it says. Both
 * fields are forwarded, and providers differ on which wins: the larger is the bound.
 */
export function requestedOutputTokens(request: CanonicalRequest): number | undefined {
  const limits = [request.max_completion_tokens, request.max_tokens].filter((limit): limit is number => typeof limit === "number");
  return limits.length === 0 ? undefined : Math.max(...limits);
}

/** Two breakpoints on one block are one: the longer-lived, since the client asked for it. */
export function longerBreakpoint(a: CacheControl | undefined, b: CacheControl): CacheControl {
  return a?.ttl === "1h" ? a : b.ttl === "1h" || a === undefined ? b : a;
}

/** Why a request with a fifth breakpoint is refused (at the fifth's path), as Anthropic would refuse it. */
export const tooManyBreakpoints = `a request may set at most ${MAX_BREAKPOINTS} cache_control breakpoints`;

type Marked = { cache_control?: CacheControl };

/** One breakpoint: where its `cache_control` is, and what it says. */
export type Breakpoint = { path: (string | number)[]; mark: CacheControl };

/**
 * The request's breakpoints in the order the prompt is cached in (the tools, then the
 * messages, each message's own before its parts'), with the path to each `cache_control`
 * for naming the one past the limit. Reads defensively: the schema's check calls it on
 * a body that may have failed its other fields.
 */
export function breakpoints(request: Pick<CanonicalRequest, "tools" | "messages">): Breakpoint[] {
  const found: Breakpoint[] = [];
  const tools = Array.isArray(request.tools) ? request.tools : [];
  for (const [t, tool] of tools.entries()) if ((tool as Marked)?.cache_control) found.push({ path: ["tools", t, "cache_control"], mark: tool.cache_control! });
  const messages = Array.isArray(request.messages) ? request.messages : [];
  for (const [m, message] of messages.entries()) {
    const own = (message as Marked | undefined)?.cache_control;
    if (own) found.push({ path: ["messages", m, "cache_control"], mark: own });
    if (!Array.isArray(message?.content)) continue;
    for (const [p, part] of message.content.entries()) {
      const mark = (part as Marked | undefined)?.cache_control;
      if (mark) found.push({ path: ["messages", m, "content", p, "cache_control"], mark });
    }
  }
  return found;
}

/**
 * Whether the request asks for its prefix to be cached for an hour: any breakpoint with
 * `ttl: "1h"`, or the request's own `cache_control` (automatic caching) with it. What a
 * write is priced at, and how long routing keeps a session on its model, both read this.
 * A provider that reports its cache writes in one count (OpenRouter's `cache_write_tokens`)
 * is read by this rule: all 1-hour writes when the request asked for an hour anywhere,
 * else all 5-minute ones, the dearer where it cannot be told.
 */
export const asksOneHourCache = (request: Pick<CanonicalRequest, "tools" | "messages">): boolean =>
  (request as { cache_control?: { ttl?: unknown } }).cache_control?.ttl === "1h" || breakpoints(request).some(({ mark }) => mark.ttl === "1h");
