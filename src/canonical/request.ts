/**
 * The canonical chat request: what every API surface parses its requests into, and all
 * that routing, the cache key, limits, budgets and the audit see. It is OpenAI's chat
 * completions body, the format every provider here speaks; the Chat Completions surface
 * takes it as sent, and other surfaces map theirs into it.
 */
import * as z from "zod";

const TextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const ImagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(["auto", "low", "high"]).optional() }),
});
const AudioPart = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const FilePart = z.looseObject({ type: z.literal("file"), file: z.looseObject({}) });
const RefusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

const UserContent = z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, ImagePart, AudioPart, FilePart])).min(1)]);
const TextContent = z.union([z.string(), z.array(TextPart).min(1)]);

const ToolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const MessageSchema = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content: TextContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal("developer"), content: TextContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal("user"), content: UserContent, name: z.string().optional() }),
  z.looseObject({
    role: z.literal("assistant"),
    content: z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, RefusalPart]))]).nullish(),
    tool_calls: z.array(ToolCall).optional(),
    name: z.string().optional(),
  }),
  z.looseObject({ role: z.literal("tool"), content: TextContent, tool_call_id: z.string().min(1) }),
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
});

const ResponseFormat = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({ type: z.literal("json_schema"), json_schema: z.looseObject({ name: z.string() }) }),
]);

const Penalty = z.number().min(-2).max(2);

/** Unknown top-level fields pass through to the provider (OpenRouter's `provider`, say). */
export const CanonicalRequestSchema = z.looseObject({
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
  tool_choice: z.union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.literal("function") })]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormat.nullish(),
  user: z.string().max(256).nullish(),
});
export type CanonicalRequest = z.infer<typeof CanonicalRequestSchema>;

/**
 * The largest number of tokens the request lets the model write, if it says. Both
 * fields are forwarded, and providers differ on which wins: the larger is the bound.
 */
export function requestedOutputTokens(request: CanonicalRequest): number | undefined {
  const limits = [request.max_completion_tokens, request.max_tokens].filter((limit): limit is number => typeof limit === "number");
  return limits.length === 0 ? undefined : Math.max(...limits);
}
