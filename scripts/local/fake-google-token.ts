/**
 * The fake's Google OAuth token endpoint (`POST /oauth2/token`), for Vertex AI: it verifies a
 * service account's JWT as Google does (its RS256 signature against the account's public key,
 * its `iss`, `aud`, `scope` and times) and issues bearer tokens for an hour, which the fake's
 * Vertex paths then require. `fakeServiceAccount` makes an account it trusts.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, verify } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Where the fake logs what it saw (its `seen`). */
type Seen = { seen: { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> }[] };

export const TOKEN_PATH = "/oauth2/token";
const SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** Service accounts the token endpoint knows (by client_email), and the tokens it issued (with their expiry). */
const accounts = new Map<string, KeyObject>();
const issued = new Map<string, number>();

/**
 * A new service account's key file (a fresh RSA key) whose `token_uri` is this fake's
 * (`fakeUrl` is the fake's base URL, ending in `/v1`); the token endpoint trusts its public key.
 */
export function fakeServiceAccount(fakeUrl: string, projectId = "tiergate-test"): string {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const clientEmail = `router-${randomBytes(4).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
  accounts.set(clientEmail, publicKey);
  return JSON.stringify({
    type: "service_account",
    project_id: projectId,
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: clientEmail,
    client_id: "1".repeat(21),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: `${fakeUrl.replace(/\/v1$/, "")}${TOKEN_PATH}`,
  });
}

/** `POST /oauth2/token`: the JWT bearer grant, checked as Google checks it, for a token that lasts an hour. */
export function exchangeToken(fake: Seen, req: IncomingMessage, res: ServerResponse, form: string): void {
  const fields = new URLSearchParams(form);
  fake.seen.push({ path: TOKEN_PATH, headers: req.headers, body: Object.fromEntries(fields) });
  const refused = grantRefusal(req, fields);
  if (refused !== undefined) {
    res.writeHead(400, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify({ error: "invalid_grant", error_description: refused }));
    return;
  }
  const token = `ya29.fake-${randomBytes(24).toString("base64url")}`;
  issued.set(token, Date.now() + 3600_000);
  res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }));
}

/** Why Google would refuse the grant, in its words, or undefined when the JWT holds: signed by a known account, for this endpoint, short-lived. */
function grantRefusal(req: IncomingMessage, fields: URLSearchParams): string | undefined {
  if (req.headers["content-type"] !== "application/x-www-form-urlencoded") return "Bad Request: not a form";
  if (fields.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return "grant_type must be urn:ietf:params:oauth:grant-type:jwt-bearer";
  const [header, claims, signature, extra] = (fields.get("assertion") ?? "").split(".");
  if (header === undefined || claims === undefined || signature === undefined || extra !== undefined) return "Invalid JWT: not three parts";
  let head: { alg?: string };
  let claim: { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
  try {
    head = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as typeof head;
    claim = JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as typeof claim;
  } catch {
    return "Invalid JWT: not JSON";
  }
  const key = claim.iss === undefined ? undefined : accounts.get(claim.iss);
  if (head.alg !== "RS256") return "Invalid JWT: alg must be RS256";
  if (key === undefined) return "Invalid JWT Signature: unknown account";
  if (!verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), key, Buffer.from(signature, "base64url"))) return "Invalid JWT Signature.";
  if (claim.aud !== `http://${req.headers.host ?? ""}${TOKEN_PATH}`) return `Invalid JWT: aud must be the token endpoint, not ${String(claim.aud)}`;
  if (claim.scope?.split(" ").includes(SCOPE) !== true) return "Invalid JWT: no cloud-platform scope";
  const now = Math.floor(Date.now() / 1000);
  if (typeof claim.iat !== "number" || typeof claim.exp !== "number" || claim.iat > now + 60 || claim.exp < now || claim.exp - claim.iat > 3600) {
    return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.";
  }
  return undefined;
}

export function bearerValid(req: IncomingMessage): boolean {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  const expires = token === undefined ? undefined : issued.get(token);
  return expires !== undefined && expires > Date.now();
}
