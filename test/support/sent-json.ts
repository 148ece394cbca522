/** What a completion call sends, whether its body is text or spliced bytes (http/raw-strings.ts). */
import type { CompletionCall } from "../../src/providers/adapter.ts";

/** The body as fetch takes it. */
export const sentBody = (call: Pick<CompletionCall, "body">): string | Uint8Array<ArrayBuffer> => (typeof call.body === "string" ? call.body : call.body.bytes);

/** The body's JSON, parsed. */
export const sentJson = (call: Pick<CompletionCall, "body">): Record<string, unknown> & { model?: unknown } => {
  const body = sentBody(call);
  return JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body)) as Record<string, unknown>;
};
