/** The API surfaces, by the path each serves; every other route answers errors in OpenAI's format. */
import { chatCompletionsSurface } from "./chat-completions/index.ts";
import type { Surface } from "./surface.ts";

const SURFACES: Readonly<Record<string, Surface>> = { "/v1/chat/completions": chatCompletionsSurface };

/** The surface whose format a path's answers and errors take. */
export const surfaceFor = (path: string): Surface => SURFACES[path] ?? chatCompletionsSurface;
