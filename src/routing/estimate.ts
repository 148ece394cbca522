/**
 * The prompt tokens a request costs as it is sent to the provider: the scored text of
 * its messages, everything else it carries (tool definitions, names, audio and file
 * parts, any field passed through), and its images. An estimate: it reserves, and a
 * provider's own count settles.
 */
import type { CanonicalRequest } from "../canonical/request.ts";

/** What one image costs at most at the providers here (OpenAI's high detail, Anthropic's 1568 px). */
export const IMAGE_TOKENS = 1_600;

/** Fields that are not sent as prompt: how the answer is delivered, and the router's own `model`. */
const NOT_PROMPT = new Set(["model", "messages", "stream", "stream_options", "n", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed"]);

/**
 * `scoredTokens` (the scorer's count of the messages' text and framing) plus a token
 * per four characters of everything else the body carries, and `IMAGE_TOKENS` per image.
 * @example sentPrompt({ model: "auto", messages, tools }, 12) // { tokens: 12 + the tools' JSON / 4, images: 0 }
 */
export function sentPrompt(request: CanonicalRequest, scoredTokens: number): { tokens: number; images: number } {
  let otherChars = 0;
  let images = 0;
  for (const [name, value] of Object.entries(request)) {
    if (!NOT_PROMPT.has(name) && value !== undefined && value !== null) otherChars += name.length + jsonLength(value);
  }
  for (const message of request.messages) {
    if ("name" in message && typeof message.name === "string") otherChars += message.name.length;
    if (message.role === "assistant" && message.tool_calls) {
      for (const call of message.tool_calls) otherChars += call.id.length + call.function.name.length;
    }
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content) {
      if (part.type === "image_url") images += 1;
      // Audio and files are sent whole; their size is the one bound known before the provider counts them.
      else if (part.type !== "text" && part.type !== "refusal") otherChars += jsonLength(part);
    }
  }
  return { tokens: scoredTokens + Math.ceil(otherChars / 4) + images * IMAGE_TOKENS, images };
}

function jsonLength(value: unknown): number {
  return typeof value === "string" ? value.length : (JSON.stringify(value)?.length ?? 0);
}
