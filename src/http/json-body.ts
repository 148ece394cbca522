/** Reads a request's JSON body under a size limit, with strict UTF-8, into a validated value. */
import type { z } from "zod";
import { noteBodyDigest } from "./body-digest.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { noteRawStrings, rawStringsOf, scanJson } from "./raw-strings.ts";

/**
 * Reads and validates the body. Refuses, in this order: a non-JSON content type (415),
 * a body over `maxBytes` (413, read no further than the limit), bytes that are not
 * UTF-8, text nested deeper than `MAX_DEPTH` or not JSON (400), and a value the schema rejects (400).
 * `forProvider`: the body goes on to a provider, which is sent its long strings as the
 * client's bytes (raw-strings.ts); other bodies keep nothing of their bytes.
 */
export async function readJsonBody<T extends z.ZodType>(
  request: Request,
  maxBytes: number,
  schema: T,
  { forProvider = false }: { forProvider?: boolean } = {},
): Promise<z.infer<T>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, `Content-Type must be application/json, not '${type.slice(0, 100) || "(none)"}'`, {
      code: "unsupported_media_type",
    });
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readAtMost(request, maxBytes).catch((error: unknown) => {
    if (error instanceof ApiError) throw error;
    // The body stream failed: the client hung up while sending it.
    throw new ApiError(499, "The client closed the connection before its request body arrived", { code: "client_disconnected" });
  });
  noteBodyDigest(request, bytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "Request body is not valid UTF-8", { code: "invalid_encoding" });
  }
  const scan = scanJson(text);
  if (scan.depth > MAX_DEPTH) {
    throw new ApiError(400, `Request body is nested deeper than ${MAX_DEPTH} levels`, { code: "invalid_json" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "Request body is not valid JSON", { code: "invalid_json" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(400, "Request body must be a JSON object", { code: "invalid_type" });
  }
  // JSON may escape half of a surrogate pair (`"\ud800"`): valid JSON, not valid Unicode, and no provider takes it.
  if (LONE_SURROGATE_ESCAPE.test(text)) {
    const where = illFormed(value, []);
    if (where !== undefined) {
      throw new ApiError(400, `'${where || "(body)"}' is not valid Unicode: it holds half of a surrogate pair`, {
        code: "invalid_encoding",
        ...(where === "" ? {} : { param: where }),
      });
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(parsed.error);
  const raw = forProvider ? rawStringsOf(value, scan, text, bytes) : undefined;
  if (raw !== undefined) noteRawStrings(request, raw);
  return parsed.data;
}

async function readAtMost(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array();
  // The common case: a declared length within the limit (checked by the caller) is read in one go.
  if (request.headers.has("content-length")) return new Uint8Array(await request.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** An escaped UTF-16 surrogate (`\ud800`…`\udfff`): the only way JSON that decoded as UTF-8 can hold a lone one. */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/** Half of a surrogate pair: a high one not followed by a low one, or a low one without a high one before it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string (or key) in `value` that is not well-formed Unicode, as `messages[0].content`; `undefined` if none. */
function illFormed(value: unknown, path: readonly (string | number)[]): string | undefined {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? formatPath(path) : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const here = [...path, Array.isArray(value) ? Number(key) : key];
    if (LONE_SURROGATE.test(key)) return formatPath(here);
    const found = illFormed(item, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/** Deep enough for any real tool schema, shallow enough that no recursive walk of the value overflows. */
const MAX_DEPTH = 64;

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `Request body exceeds ${maxBytes} bytes (MAX_BODY_BYTES)`, { code: "body_too_large" });
}
