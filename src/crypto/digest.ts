/** SHA-256 and HMAC-SHA-256 as hex, with Web Crypto (the same in workerd and Node). */

const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

const hex = (buffer: ArrayBuffer): string =>
  Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");

export async function sha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export async function hmacSha256Hex(secret: string, text: string): Promise<string> {
  let key = hmacKeys.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(secret, key);
  }
  return hex(await crypto.subtle.sign("HMAC", await key, encoder.encode(text)));
}
