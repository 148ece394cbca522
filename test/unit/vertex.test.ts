/** Vertex AI: its settings (each bad one named), the service account's JWT and access token, and the URL of a publisher's model. */
import { generateKeyPairSync, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { fakeServiceAccount, TOKEN_PATH } from "../../scripts/local/fake-google-token.ts";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { parseConfig } from "../../src/config/env.ts";
import type { ServiceAccount } from "../../src/config/vertex.ts";
import { ApiError } from "../../src/http/errors.ts";
import { vertex, vertexModelUrl } from "../../src/providers/vertex/index.ts";
import { accessTokens, importKey, signedJwt, VERTEX_SCOPE } from "../../src/providers/vertex/token.ts";
import { sentBody } from "../support/sent-json.ts";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const account: ServiceAccount = {
  clientEmail: "router@proj-123.iam.gserviceaccount.com",
  privateKey: PEM,
  tokenUri: "https://oauth2.example/token",
  projectId: "proj-123",
};
const keyFile = (fields: Record<string, unknown> = {}): string =>
  JSON.stringify({
    type: "service_account",
    project_id: "proj-123",
    client_email: account.clientEmail,
    private_key: PEM,
    token_uri: account.tokenUri,
    ...fields,
  });

/** The config's error for these settings as the router shows it (middleware/edge.ts: each issue's path, then its message). */
const configError = (bindings: Record<string, string>): string => {
  try {
    parseConfig(bindings);
  } catch (error) {
    if (error instanceof z.ZodError) return error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    return String(error instanceof Error ? error.message : error);
  }
  throw new Error("the config was taken");
};

describe("the settings", () => {
  it("make Vertex a configured provider, its project the key file's unless set, its host the region's", () => {
    const config = parseConfig({ VERTEX_SERVICE_ACCOUNT_JSON: keyFile(), VERTEX_REGION: "europe-west4" });
    const provider = config.providers.get("vertex")!;
    expect(provider).toMatchObject({ api: "vertex", configured: true, baseUrl: "https://europe-west4-aiplatform.googleapis.com" });
    expect(provider.vertex).toMatchObject({
      project: "proj-123",
      region: "europe-west4",
      serviceAccount: { clientEmail: account.clientEmail, tokenUri: account.tokenUri },
    });
    expect(vertexModelUrl(provider, "google", "gemini-3.5-flash", "generateContent")).toBe(
      "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-123/locations/europe-west4/publishers/google/models/gemini-3.5-flash:generateContent",
    );
    const global = parseConfig({ VERTEX_SERVICE_ACCOUNT_JSON: keyFile(), VERTEX_PROJECT: "other-project" }).providers.get("vertex")!;
    expect(vertexModelUrl(global, "anthropic", "claude-sonnet-5", "streamRawPredict")).toBe(
      "https://aiplatform.googleapis.com/v1/projects/other-project/locations/global/publishers/anthropic/models/claude-sonnet-5:streamRawPredict",
    );
    expect(parseConfig({}).providers.get("vertex")!.configured).toBe(false);
    expect(parseConfig({ GEMINI_API_KEY: "AIza-1" }).providers.get("gemini")).toMatchObject({
      configured: true,
      baseUrl: "https://generativelanguage.googleapis.com",
    });
  });

  it("keep the private key among the secrets, whole and line by line", () => {
    const { secrets } = parseConfig({ VERTEX_SERVICE_ACCOUNT_JSON: keyFile(), GEMINI_API_KEY: "AIza-secret-1" });
    expect(secrets).toContain(PEM);
    const lines = PEM.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
    expect(secrets).toContain(lines.join(""));
    for (const line of lines) expect(secrets).toContain(line);
    expect(secrets).toContain("AIza-secret-1");
  });

  it("refuse a bad key file, project or region, naming the field and never quoting the key", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ VERTEX_SERVICE_ACCOUNT_JSON: `{"private_key": "${PEM.slice(30, 90)}` }, /VERTEX_SERVICE_ACCOUNT_JSON[\s\S]*is not JSON/],
      [{ VERTEX_SERVICE_ACCOUNT_JSON: keyFile({ client_email: undefined }) }, /VERTEX_SERVICE_ACCOUNT_JSON[\s\S]*'client_email' is missing/],
      [{ VERTEX_SERVICE_ACCOUNT_JSON: keyFile({ private_key: undefined }) }, /VERTEX_SERVICE_ACCOUNT_JSON[\s\S]*'private_key' is missing/],
      [
        { VERTEX_SERVICE_ACCOUNT_JSON: keyFile({ private_key: privateKey.export({ type: "pkcs1", format: "pem" }).toString() }) },
        /VERTEX_SERVICE_ACCOUNT_JSON[\s\S]*'private_key' must be a PEM PKCS#8 key/,
      ],
      [
        { VERTEX_SERVICE_ACCOUNT_JSON: keyFile({ token_uri: "http://evil.example/token" }) },
        /VERTEX_SERVICE_ACCOUNT_JSON[\s\S]*'token_uri' must be an https URL/,
      ],
      [{ VERTEX_SERVICE_ACCOUNT_JSON: keyFile({ project_id: undefined }) }, /VERTEX_PROJECT must be set/],
      [{ VERTEX_SERVICE_ACCOUNT_JSON: keyFile(), VERTEX_REGION: "us-cental1" }, /VERTEX_REGION[\s\S]*is not a Vertex AI region/],
      [{ VERTEX_SERVICE_ACCOUNT_JSON: keyFile(), VERTEX_PROJECT: "Bad Project" }, /VERTEX_PROJECT[\s\S]*Google Cloud project id/],
    ];
    const keyLines = PEM.split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"));
    for (const [bindings, expected] of cases) {
      const message = configError(bindings);
      expect(message, JSON.stringify(Object.keys(bindings))).toMatch(expected);
      for (const line of keyLines) expect(message).not.toContain(line);
    }
  });
});

describe("the JWT", () => {
  it("is RS256 over the account's claims, verifiable with its public key", async () => {
    const jwt = await signedJwt(await importKey(PEM), account, 1_800_000_000);
    const [header, claims, signature] = jwt.split(".");
    expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(claims!, "base64url").toString())).toEqual({
      iss: account.clientEmail,
      scope: VERTEX_SCOPE,
      aud: account.tokenUri,
      iat: 1_800_000_000,
      exp: 1_800_003_600,
    });
    expect(verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature!, "base64url"))).toBe(true);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), other, Buffer.from(signature!, "base64url"))).toBe(false);
  });

  it("refuses a key WebCrypto cannot import, naming the field", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const refused = await importKey(ec).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 502, code: "upstream_auth_failed" });
    expect((refused as ApiError).message).toContain("VERTEX_SERVICE_ACCOUNT_JSON's 'private_key'");
  });
});

describe("the access token", () => {
  /** A token endpoint that counts its exchanges and answers tokens of `expiresIn` seconds, after `delayMs`. */
  const endpoint = (expiresIn = 3599, delayMs = 5) => {
    const seen: URLSearchParams[] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      seen.push(new URLSearchParams(String(init.body)));
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return Response.json({ access_token: `token-${seen.length}`, expires_in: expiresIn, token_type: "Bearer" });
    }) as typeof globalThis.fetch;
    return { seen, fetch };
  };

  it("is fetched once for many concurrent calls, held for 50 minutes, then fetched again", async () => {
    let now = 1_800_000_000_000;
    const { seen, fetch } = endpoint();
    const tokens = accessTokens({ now: () => now, fetch });
    expect(await Promise.all(Array.from({ length: 20 }, () => tokens.get(account)))).toEqual(Array(20).fill("token-1"));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    now += 49 * 60_000;
    expect(await tokens.get(account)).toBe("token-1");
    now += 2 * 60_000; // 51 minutes: ten minutes before the hour is over, a new one
    expect(await tokens.get(account)).toBe("token-2");
    expect(seen).toHaveLength(2);
  });

  it("is fetched again once forgotten (Vertex refused it), and only that account's", async () => {
    const { seen, fetch } = endpoint();
    const tokens = accessTokens({ fetch });
    const other = { ...account, clientEmail: "tenant@other-project.iam.gserviceaccount.com" };
    expect(await tokens.get(account)).toBe("token-1");
    expect(await tokens.get(other)).toBe("token-2");
    tokens.forget(account);
    expect(await tokens.get(account)).toBe("token-3");
    // Another account's token (the router's, another tenant's) is held still.
    expect(await tokens.get(other)).toBe("token-2");
    expect(seen).toHaveLength(3);
  });

  it("is not held when the exchange fails: the next call tries again", async () => {
    let calls = 0;
    const fetch = (async () => {
      calls += 1;
      return calls === 1
        ? Response.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, { status: 400 })
        : Response.json({ access_token: "ok", expires_in: 3599 });
    }) as typeof globalThis.fetch;
    const tokens = accessTokens({ fetch });
    const refused = await tokens.get(account).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 502, code: "upstream_auth_failed", message: expect.stringContaining("answered 400 (invalid_grant)") });
    expect(await tokens.get(account)).toBe("ok");
  });

  describe("against the fake's token endpoint, which verifies the JWT", () => {
    let fake: FakeUpstream;
    beforeAll(async () => {
      fake = await startFakeUpstream();
    });
    afterAll(() => fake.close());
    const parsed = (json: string): ServiceAccount => {
      const file = JSON.parse(json) as { client_email: string; private_key: string; token_uri: string };
      return { clientEmail: file.client_email, privateKey: file.private_key, tokenUri: file.token_uri, projectId: undefined };
    };

    it("gets a token for the account, and signs the Vertex call with it", async () => {
      const known = parsed(fakeServiceAccount(fake.url));
      const token = await accessTokens().get(known);
      expect(token).toMatch(/^ya29\.fake-/);
      expect(fake.seen.filter((seen) => seen.path === TOKEN_PATH).length).toBeGreaterThan(0);
    });

    it("is refused when the JWT is signed with another key", async () => {
      const known = parsed(fakeServiceAccount(fake.url));
      const impostor = { ...known, privateKey: PEM };
      const refused = await accessTokens()
        .get(impostor)
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 502, code: "upstream_auth_failed", message: expect.stringContaining("answered 400 (invalid_grant)") });
    });
  });

  it("signs Vertex's calls with the bearer token, through the adapter", async () => {
    const fake = await startFakeUpstream();
    try {
      const config = parseConfig({ VERTEX_SERVICE_ACCOUNT_JSON: fakeServiceAccount(fake.url, "proj-vertex"), VERTEX_BASE_URL: fake.url.replace(/\/v1$/, "") });
      const provider = config.providers.get("vertex")!;
      const ask = { model: "auto", messages: [{ role: "user" as const, content: "hi" }] };
      const call = await vertex.completionRequest(provider, vertex.body(ask, "gemini-3.5-flash", { stream: true }), true);
      expect(call.url).toBe(
        `${fake.url.replace(/\/v1$/, "")}/v1/projects/proj-vertex/locations/global/publishers/google/models/gemini-3.5-flash:streamGenerateContent?alt=sse`,
      );
      expect(call.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
      const answer = await fetch(call.url, { method: "POST", headers: call.headers, body: sentBody(call) });
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain('"finishReason":"STOP"');
      // A token Vertex refuses (401) is dropped: the next call exchanges again; a 403 (a missing role) keeps it.
      const exchanges = () => fake.seen.filter((seen) => seen.path === TOKEN_PATH).length;
      const before = exchanges();
      expect(vertex.errorKind!(403, '{"error":{"code":403,"status":"PERMISSION_DENIED"}}', undefined, provider)).toBe("auth_failed");
      expect((await vertex.completionRequest(provider, vertex.body(ask, "gemini-3.5-flash", { stream: false }), false)).headers.authorization).toBe(
        call.headers.authorization,
      );
      expect(vertex.errorKind!(401, '{"error":{"code":401,"status":"UNAUTHENTICATED"}}', undefined, provider)).toBe("auth_failed");
      const again = await vertex.completionRequest(provider, vertex.body(ask, "gemini-3.5-flash", { stream: false }), false);
      expect(again.headers.authorization).not.toBe(call.headers.authorization);
      expect(exchanges()).toBe(before + 1);
    } finally {
      await fake.close();
    }
  });
});
