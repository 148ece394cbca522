/**
 * Vertex AI's access token, from a service account's key: a JWT (RS256) signed with the
 * account's private key and exchanged at its `token_uri` (OAuth 2.0's JWT bearer grant, RFC
 * 7523) for a bearer token that lasts an hour. Signed with WebCrypto directly: Google's SDK
 * does not run in a Worker, `jose` is not a dependency, and RS256 over a PKCS#8 key is an
 * `importKey` and a `sign`. Each isolate keeps a token until ten minutes before it expires
 * (so about 50 minutes) and all requests share one exchange in flight; a token Vertex
 * refuses (401) is dropped, so a revoked one costs one failed call, not 50 minutes of them.
 * Failure policy: an exchange that fails or takes over 10 s fails the call (a 502 naming
 * the token, whose circuit counts it, so the next model is tried) and is not cached: the
 * next call tries again.
 */
import type { ServiceAccount } from "../../config/vertex.ts";
import { ApiError } from "../../http/errors.ts";

/** What the token may do: Vertex AI's calls. */
export const VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** Google's tokens last an hour; one is used until this long before it expires. */
const REFRESH_EARLY_MS = 10 * 60_000;
const EXCHANGE_TIMEOUT_MS = 10_000;
const JWT_LIFETIME_S = 3_600;

type Held = { token: string; freshUntil: number };

export type AccessTokens = {
  /** A bearer token for the account: the one held while fresh, else one exchange shared by every caller waiting. */
  get(account: ServiceAccount): Promise<string>;
  /** Drops the account's token (one Vertex refused): its next call exchanges again; other accounts' tokens stay. */
  forget(account: ServiceAccount): void;
};

/** Tokens for service accounts, held per account; `now` and `fetch` are the test's to set. */
export function accessTokens(options: { now?: () => number; fetch?: typeof fetch } = {}): AccessTokens {
  const now = options.now ?? Date.now;
  const call = options.fetch ?? ((input, init) => fetch(input, init));
  const held = new Map<string, Held>();
  const pending = new Map<string, Promise<string>>();
  const keys = new Map<string, Promise<CryptoKey>>();

  const exchange = async (account: ServiceAccount, name: string): Promise<string> => {
    let key = keys.get(account.privateKey);
    if (key === undefined) {
      key = importKey(account.privateKey);
      keys.set(account.privateKey, key);
      key.catch(() => keys.delete(account.privateKey));
    }
    const issuedAt = now();
    const assertion = await signedJwt(await key, account, Math.floor(issuedAt / 1000));
    const response = await call(account.tokenUri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
      signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
    }).catch((error: unknown) => {
      throw tokenError(error instanceof Error && error.name === "TimeoutError" ? `no answer within ${EXCHANGE_TIMEOUT_MS} ms` : "could not be reached");
    });
    const text = await response.text().catch(() => "");
    let answer: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      // not JSON: said below
    }
    if (!response.ok || typeof answer.access_token !== "string" || answer.access_token === "") {
      const said = typeof answer.error === "string" ? ` (${answer.error.slice(0, 80)})` : "";
      throw tokenError(`answered ${response.status}${said}`);
    }
    const lifetime = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in * 1000 : JWT_LIFETIME_S * 1000;
    held.set(name, { token: answer.access_token, freshUntil: issuedAt + Math.max(lifetime - REFRESH_EARLY_MS, lifetime / 2) });
    return answer.access_token;
  };

  const nameOf = (account: ServiceAccount): string => `${account.tokenUri} ${account.clientEmail} ${account.privateKey}`;
  return {
    get(account) {
      const name = nameOf(account);
      const token = held.get(name);
      if (token !== undefined && now() < token.freshUntil) return Promise.resolve(token.token);
      let waiting = pending.get(name);
      if (waiting === undefined) {
        waiting = exchange(account, name).finally(() => pending.delete(name));
        pending.set(name, waiting);
      }
      return waiting;
    },
    forget: (account) => void held.delete(nameOf(account)),
  };
}

/** The isolate's tokens, shared by every Vertex call it makes. */
export const isolateTokens: AccessTokens = accessTokens();

/** The JWT Google's token endpoint takes for a service account: `iss` the account, `aud` the endpoint, an hour long. */
export async function signedJwt(key: CryptoKey, account: ServiceAccount, issuedAt: number): Promise<string> {
  const header = { alg: "RS256", typ: "JWT" };
  const claims = { iss: account.clientEmail, scope: VERTEX_SCOPE, aud: account.tokenUri, iat: issuedAt, exp: issuedAt + JWT_LIFETIME_S };
  const signing = `${base64Url(JSON.stringify(header))}.${base64Url(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(signing));
  return `${signing}.${base64Url(new Uint8Array(signature))}`;
}

/** The PEM PKCS#8 key as WebCrypto's RS256 signing key; a key it cannot take is named, never quoted. */
export async function importKey(pem: string): Promise<CryptoKey> {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  try {
    const der = Uint8Array.from(atob(body), (char) => char.charCodeAt(0));
    return await crypto.subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  } catch {
    throw new ApiError(
      502,
      "Provider vertex cannot sign with its key: VERTEX_SERVICE_ACCOUNT_JSON's 'private_key' is not an RSA PKCS#8 key WebCrypto can import",
      {
        type: "upstream_error",
        code: "upstream_auth_failed",
      },
    );
  }
}

function tokenError(what: string): ApiError {
  return new ApiError(502, `Provider vertex could not get an access token: the service account's token_uri ${what}`, {
    type: "upstream_error",
    code: "upstream_auth_failed",
  });
}

function base64Url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
