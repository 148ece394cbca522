/**
 * The embeddings request (`POST /v1/embeddings`, OpenAI's format, which every provider
 * here speaks) and the one form its vectors are kept in: little-endian float32, base64,
 * as OpenAI sends them when asked, and as the cache stores them.
 */
import * as z from "zod";

/** OpenAI's own bounds: 2,048 inputs a request. A batch a provider takes fewer of is split (engine/embeddings.ts). */
export const MAX_INPUTS = 2_048;

const TokenId = z.number().int().nonnegative();
const Text = z.string().min(1, "an input may not be empty");
const Tokens = z.array(TokenId).min(1, "a token array may not be empty");

export const EmbeddingRequestSchema = z.object({
  model: z.string().min(1),
  /** One text, texts, one token array, or token arrays. */
  input: z.union([Text, z.array(Text).min(1).max(MAX_INPUTS), Tokens, z.array(Tokens).min(1).max(MAX_INPUTS)]),
  dimensions: z.number().int().positive().optional(),
  encoding_format: z.enum(["float", "base64"]).optional(),
  user: z.string().max(256).optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

/** One input: a text, or the token ids of one. */
export type EmbeddingInput = string | number[];

/** The request's inputs as a list, in order. */
export function inputsOf(request: EmbeddingRequest): EmbeddingInput[] {
  const { input } = request;
  if (typeof input === "string") return [input];
  if (input.every((item) => typeof item === "number")) return [input as number[]];
  return input as EmbeddingInput[];
}

/**
 * The tokens an input is reserved at: a token array's length, or a token per four
 * characters of a text (a character past ASCII counting as one), the estimate chat prompts use.
 */
export function inputTokens(input: EmbeddingInput): number {
  if (typeof input !== "string") return input.length;
  let nonAscii = 0;
  for (let i = 0; i < input.length; i++) if (input.charCodeAt(i) > 0x7f) nonAscii += 1;
  return Math.ceil((input.length - nonAscii) / 4) + nonAscii;
}

/** A vector as OpenAI's base64: its float32 values, little-endian. */
export function vectorToBase64(values: readonly number[]): string {
  const floats = new Float32Array(values);
  const bytes = new Uint8Array(floats.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The floats of a base64 vector, or `undefined` when it is not whole float32 values. */
export function base64ToVector(base64: string): number[] | undefined {
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    return undefined;
  }
  if (binary.length % 4 !== 0) return undefined;
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return Array.from(new Float32Array(bytes.buffer));
}

/** The dimensions of a base64 vector (4 bytes a float), without decoding it. */
export function base64Dimensions(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return ((base64.length / 4) * 3 - padding) / 4;
}
