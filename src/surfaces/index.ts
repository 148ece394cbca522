/** The API surfaces, by the path each serves; every other route answers errors in OpenAI's format. */
import { anthropicMessagesSurface } from "./anthropic-messages/index.ts";
import { chatCompletionsSurface } from "./chat-completions/index.ts";
import type { Surface } from "./surface.ts";

/** The name the audit row gives a path's surface, for the paths that are one. */
export function surfaceName(path: string): string | undefined {
  if (path === "/v1/chat/completions") return "chat_completions";
  if (path === "/v1/messages" || path === "/v1/messages/count_tokens") return "messages";
  if (path === "/v1/responses" || path.startsWith("/v1/responses/")) return "responses";
  if (path === "/v1/embeddings") return "embeddings";
  return undefined;
}

/** The surface whose format a path's answers and errors take: Anthropic's for /v1/messages and under it. */
export const surfaceFor = (path: string): Surface =>
  path === "/v1/messages" || path.startsWith("/v1/messages/") ? anthropicMessagesSurface : chatCompletionsSurface;
