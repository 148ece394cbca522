/**
 * The canonical (OpenAI chat) request as Gemini's `generateContent` body, which Google AI
 * Studio and Vertex AI both take: the system messages become `systemInstruction`, the rest
 * `contents` of roles `user` and `model`, tool calls and results `functionCall` and
 * `functionResponse` parts, images `inlineData` (a data: URL) or `fileData` (a URL), and the
 * sampling fields `generationConfig`. What Gemini cannot take is refused with a 400 naming the field.
 */
import { type CanonicalRequest, type Message, requestedOutputTokens } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";

export type GeminiPart = Record<string, unknown>;
export type GeminiContent = { role: "user" | "model"; parts: GeminiPart[] };

/** What `body` hands `completionRequest`: the model goes in the URL, the request in the body. */
export type GeminiCall = { model: string; request: Record<string, unknown> };

/**
 * The signature Google documents for a function call it did not sign (a history from another
 * model, or a client that dropped it): Gemini 3 refuses a call without one otherwise.
 */
export const UNSIGNED_CALL = "skip_thought_signature_validator";

/** Image types Gemini reads, by a URL's extension: a `fileData` part must say its type. */
const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  gif: "image/gif",
};

/** The request's body for Gemini's `generateContent` (and `streamGenerateContent`, the same body). */
export function geminiRequest(request: CanonicalRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const system = systemText(request.messages);
  if (system !== undefined) body.systemInstruction = { parts: [{ text: system }] };
  body.contents = contentsOf(request.messages);
  const tools = request.tools ?? [];
  if (tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: tools.map(({ function: fn }) => ({
          name: fn.name,
          ...(fn.description === undefined ? {} : { description: fn.description }),
          // Full JSON schema (Gemini's `parameters` takes only an OpenAPI subset and refuses `additionalProperties`).
          ...(fn.parameters === undefined ? {} : { parametersJsonSchema: fn.parameters }),
        })),
      },
    ];
  }
  const toolConfig = toolConfigOf(request.tool_choice);
  if (toolConfig !== undefined && tools.length > 0) body.toolConfig = toolConfig;
  const generation = generationConfig(request);
  if (Object.keys(generation).length > 0) body.generationConfig = generation;
  return body;
}

function generationConfig(request: CanonicalRequest): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const max = requestedOutputTokens(request);
  if (max !== undefined) config.maxOutputTokens = max;
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  if (request.stop != null) config.stopSequences = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.n != null) config.candidateCount = request.n;
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty;
  if (request.seed != null) config.seed = request.seed;
  if (request.logprobs === true) {
    config.responseLogprobs = true;
    if (request.top_logprobs != null) config.logprobs = request.top_logprobs;
  }
  const format = request.response_format;
  if (format?.type === "json_object" || format?.type === "json_schema") config.responseMimeType = "application/json";
  if (format?.type === "json_schema") {
    const schema = (format.json_schema as { schema?: unknown }).schema;
    if (schema !== undefined) config.responseJsonSchema = schema;
  }
  return config;
}

function toolConfigOf(choice: CanonicalRequest["tool_choice"]): Record<string, unknown> | undefined {
  if (choice == null) return undefined;
  if (typeof choice === "object") return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.function.name] } };
  return { functionCallingConfig: { mode: { none: "NONE", auto: "AUTO", required: "ANY" }[choice] } };
}

/** Every system and developer message, in order: Gemini has one system instruction. */
function systemText(messages: readonly Message[]): string | undefined {
  const texts = messages.filter((message) => message.role === "system" || message.role === "developer").map((message) => textOf(message.content));
  return texts.length === 0 ? undefined : texts.join("\n\n");
}

function textOf(content: string | readonly { text: string }[]): string {
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

/** The conversation as Gemini's turns; a turn of the same role as the one before joins it (tool results after a call, say). */
function contentsOf(messages: readonly Message[]): GeminiContent[] {
  const contents: GeminiContent[] = [];
  const callNames = new Map<string, string>();
  for (const [index, message] of messages.entries()) {
    const turn = turnOf(message, index, callNames);
    if (turn === undefined) continue;
    const last = contents.at(-1);
    if (last !== undefined && last.role === turn.role) last.parts.push(...turn.parts);
    else contents.push(turn);
  }
  return contents;
}

function turnOf(message: Message, index: number, callNames: Map<string, string>): GeminiContent | undefined {
  const where = `messages[${index}]`;
  switch (message.role) {
    case "system":
    case "developer":
      return undefined;
    case "user":
      return {
        role: "user",
        parts: typeof message.content === "string" ? [{ text: message.content }] : message.content.map((part, p) => userPart(part, `${where}.content[${p}]`)),
      };
    case "assistant": {
      const parts: GeminiPart[] = [];
      const content = message.content;
      const text =
        content == null ? "" : typeof content === "string" ? content : content.map((part) => (part.type === "text" ? part.text : part.refusal)).join("");
      if (text !== "") parts.push({ text });
      for (const [c, call] of (message.tool_calls ?? []).entries()) {
        callNames.set(call.id, call.function.name);
        parts.push({
          functionCall: { name: call.function.name, args: callArguments(call.function.arguments, `${where}.tool_calls[${c}].function.arguments`) },
          thoughtSignature: signatureOf(call) ?? UNSIGNED_CALL,
        });
      }
      // An assistant turn with nothing in it (content null, no calls) has no Gemini form.
      return parts.length === 0 ? undefined : { role: "model", parts };
    }
    case "tool": {
      const name = callNames.get(message.tool_call_id);
      if (name === undefined) {
        throw new ApiError(400, `'${where}.tool_call_id' names no tool call of an earlier assistant message: Gemini needs the function's name`, {
          code: "invalid_value",
          param: `${where}.tool_call_id`,
        });
      }
      return { role: "user", parts: [{ functionResponse: { name, response: { result: textOf(message.content) } } }] };
    }
    case "function":
      return { role: "user", parts: [{ functionResponse: { name: message.name, response: { result: message.content ?? "" } } }] };
  }
}

/** Gemini's signature of a call it made, as the answer carried it (Google's OpenAI-compatible form: `extra_content.google.thought_signature`). */
function signatureOf(call: unknown): string | undefined {
  const signature = (call as { extra_content?: { google?: { thought_signature?: unknown } } }).extra_content?.google?.thought_signature;
  return typeof signature === "string" && signature !== "" ? signature : undefined;
}

/** A call's arguments as the object Gemini takes (`{}` for none). */
function callArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, `'${param}' must be a JSON object for Gemini`, { code: "invalid_value", param });
  }
  return parsed as Record<string, unknown>;
}

type UserPart = Exclude<Extract<Message, { role: "user" }>["content"], string>[number];

function userPart(part: UserPart, where: string): GeminiPart {
  switch (part.type) {
    case "text":
      return { text: part.text };
    case "image_url":
      return imagePart(part.image_url.url, `${where}.image_url.url`);
    case "input_audio":
      return { inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } };
    case "file": {
      const data = (part.file as { file_data?: unknown }).file_data;
      const inline = typeof data === "string" ? dataUrl(data) : undefined;
      if (inline === undefined) {
        throw new ApiError(400, `'${where}.file.file_data' must be a base64 data: URL for Gemini (file ids are OpenAI's)`, {
          code: "invalid_value",
          param: `${where}.file.file_data`,
        });
      }
      return { inlineData: inline };
    }
  }
}

/** A data: URL inline; any other URL as a file Gemini fetches, whose type its extension must say. */
function imagePart(url: string, param: string): GeminiPart {
  const inline = dataUrl(url);
  if (inline !== undefined) return { inlineData: inline };
  if (url.startsWith("data:")) throw new ApiError(400, `'${param}' is a data: URL that is not base64`, { code: "invalid_value", param });
  const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  const mimeType = extension === undefined ? undefined : IMAGE_TYPES[extension];
  if (mimeType === undefined) {
    throw new ApiError(
      400,
      `'${param}': Gemini must be told an image's type; send a data: URL, or a URL ending in .png, .jpg, .jpeg, .webp, .heic, .heif or .gif`,
      {
        code: "invalid_value",
        param,
      },
    );
  }
  return { fileData: { mimeType, fileUri: url } };
}

function dataUrl(url: string): { mimeType: string; data: string } | undefined {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return match === null ? undefined : { mimeType: match[1]!, data: match[2]! };
}
