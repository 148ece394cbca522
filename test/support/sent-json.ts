/** The JSON a completion call sends, whether its body is text or bytes (http/raw-strings.ts). */
export const sentJson = (call: { body: string | Uint8Array }): Record<string, unknown> & { model?: unknown } =>
  JSON.parse(typeof call.body === "string" ? call.body : new TextDecoder().decode(call.body)) as Record<string, unknown>;
