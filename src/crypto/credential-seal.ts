/**
 * Tenants' provider credentials at rest: AES-256-GCM (WebCrypto) under a key-encryption
 * key (KEK), a fresh 96-bit IV per seal, and the tenant and provider bound as additional
 * authenticated data, so a sealed row moved to another tenant or provider fails to open.
 * Each seal names its KEK by a short hash of it (`kekId`), so a keyring of the current and
 * the previous KEK opens rows of either during a rotation.
 */
import { sha256Hex } from "./digest.ts";

/** A sealed credential as stored: which KEK, the IV and the ciphertext (with GCM's tag), both base64. */
export type Sealed = { kekId: string; iv: string; ciphertext: string };

/** The KEKs a deployment holds: the current one seals; the current and the previous open. */
export type Keyring = {
  /** The id new seals carry (undefined: no KEK configured, nothing can be sealed). */
  currentId: string | undefined;
  seal(tenant: string, provider: string, plaintext: string): Promise<Sealed>;
  /** @throws when no KEK of the keyring has the row's id, or the row is not authentic for this tenant and provider. */
  open(tenant: string, provider: string, sealed: Sealed): Promise<string>;
};

type Kek = { id: string; key: CryptoKey };

/** 12 hex characters of the KEK's SHA-256: tells KEKs apart, and gives away nothing of a 256-bit key. */
export async function kekIdOf(base64: string): Promise<string> {
  return (await sha256Hex(`tiergate provider-keys kek\u0000${base64}`)).slice(0, 12);
}

async function importKek(base64: string): Promise<Kek> {
  const raw = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  if (raw.length !== 32) throw new Error("a key-encryption key must be 32 bytes in base64");
  return { id: await kekIdOf(base64), key: await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]) };
}

const aad = (tenant: string, provider: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(new TextEncoder().encode(`tiergate provider credential v1\u0000${tenant}\u0000${provider}`));
const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

/**
 * The keyring of `current` and `previous` (base64 KEKs, either may be unset), each imported
 * once, when first used.
 * @example const ring = await keyringOf(kek, undefined); const row = await ring.seal("acme", "openrouter", "{...}");
 */
export async function keyringOf(current: string | undefined, previous: string | undefined): Promise<Keyring> {
  const keks = await Promise.all([current, previous].filter((kek): kek is string => kek !== undefined).map(importKek));
  const sealer = current === undefined ? undefined : keks[0];
  return {
    currentId: sealer?.id,
    async seal(tenant, provider, plaintext) {
      if (sealer === undefined) throw new Error("PROVIDER_KEYS_KEK is not set");
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad(tenant, provider) },
        sealer.key,
        new TextEncoder().encode(plaintext),
      );
      return { kekId: sealer.id, iv: toBase64(iv), ciphertext: toBase64(new Uint8Array(sealed)) };
    },
    async open(tenant, provider, sealed) {
      const kek = keks.find((candidate) => candidate.id === sealed.kekId);
      if (kek === undefined) throw new Error(`no configured key-encryption key has id ${sealed.kekId}`);
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64(sealed.iv), additionalData: aad(tenant, provider) },
        kek.key,
        fromBase64(sealed.ciphertext),
      );
      return new TextDecoder().decode(plain);
    },
  };
}
