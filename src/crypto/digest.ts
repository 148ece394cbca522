/** SHA-256 and HMAC-SHA-256 as hex, with Web Crypto (the same in workerd and Node). */

const encoder = new TextEncoder();

/** Two hex digits per byte value, so a digest becomes text with one lookup per byte. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function hex(buffer: ArrayBuffer): string {
  let out = "";
  for (const byte of new Uint8Array(buffer)) out += HEX[byte];
  return out;
}

export function sha256Hex(text: string): Promise<string> {
  return sha256HexOfBytes(encoder.encode(text));
}

export async function sha256HexOfBytes(bytes: ArrayBufferView): Promise<string> {
  // Bytes read from a request or encoded from text are never shared memory, which is all the DOM typings' narrower BufferSource excludes.
  return hex(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
}

/** HMAC-SHA-256 of texts under one secret, as hex. */
export type Hmac = (text: string) => Promise<string>;

/**
 * An HMAC under `secret` whose key is imported once, on first use, and kept by the
 * signer (the isolate's services hold the ones the request path uses).
 * @example const sign = hmacSigner(key); await sign("text") // "9c1e…"
 */
export function hmacSigner(secret: string): Hmac {
  let key: Promise<CryptoKey> | undefined;
  return async (text) => {
    key ??= crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return hex(await crypto.subtle.sign("HMAC", await key, encoder.encode(text)));
  };
}

/** One HMAC, the key imported for it alone (scripts, tests). */
export function hmacSha256Hex(secret: string, text: string): Promise<string> {
  return hmacSigner(secret)(text);
}

/**
 * Compares two texts in time that depends only on their lengths (for MACs and hashed keys).
 * By UTF-16 code unit, not encoded to bytes first: the same answer, without two calls into
 * the runtime on every keyed request (the admin key's check).
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
