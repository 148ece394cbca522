/**
 * A tenant's own AWS and Google Cloud credentials (issue 38, BYOK) on the native Bedrock and
 * Vertex adapters: its calls are signed with its AWS key for its region, and its Vertex calls
 * carry a token its service account was granted, for its project and region; another
 * tenant's calls stay on the router's. The fakes check both: Bedrock's by its own SigV4,
 * Google's token endpoint by the JWT's signature against the account's public key.
 */
import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE_AWS, FAKE_AWS_TENANT } from "../../scripts/local/fake-bedrock.ts";
import { fakeServiceAccount, TOKEN_PATH } from "../../scripts/local/fake-google-token.ts";
import { fakeNativeProviders } from "../../scripts/local/fake-native.ts";
import { fakeProviders, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const env = useFakeStack({
  providers: (fake) => ({
    ...fakeProviders(fake.url),
    ...fakeNativeProviders(fake, ["anthropic", "bedrock", "vertex"], { project: "router-project", key: "sk-ant-router-0123456789" }),
  }),
  bindings: { PROVIDER_KEYS_KEK: randomBytes(32).toString("base64"), REQUIRE_API_KEY: "true" },
});
const suffix = randomBytes(3).toString("hex");
const TENANT = `clouds-a-${suffix}`;
const OTHER = `clouds-b-${suffix}`;
const keys: Record<string, string> = {};
let tenantAccount: string;
const ANTHROPIC_TENANT_KEY = `sk-ant-tenant-GREPME-${randomBytes(8).toString("hex")}`;

const admin = (path: string, method: string, body?: unknown) =>
  env.router.fetch(path, {
    method,
    headers: { authorization: `Bearer ${env.storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const ask = (tenant: string, model: string) =>
  new OpenAI({ baseURL: `${env.router.url}/v1`, apiKey: keys[tenant]!, maxRetries: 0 }).chat.completions.create({
    model,
    messages: [{ role: "user", content: uniquePrompt() }],
  });
const lastCall = (pathPart: string) => [...env.fake.seen].reverse().find((seen) => seen.path.includes(pathPart))!;
/** Who signed a SigV4 call, for which region: `<access key id>/<region>`. */
const signer = (authorization: unknown): string => {
  const [, keyId, region] = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(String(authorization))!;
  return `${keyId}/${region}`;
};

beforeAll(async () => {
  for (const tenant of [TENANT, OTHER]) {
    const made = await admin("/v1/admin/keys", "POST", { name: "clouds", tenant });
    keys[tenant] = ((await made.json()) as { key: string }).key;
  }
  tenantAccount = fakeServiceAccount(env.fake.url, "tenant-project-a");
  const aws = { access_key_id: FAKE_AWS_TENANT.accessKeyId, secret_access_key: FAKE_AWS_TENANT.secretAccessKey, region: FAKE_AWS_TENANT.region };
  expect((await admin(`/v1/admin/tenants/${TENANT}/providers/bedrock`, "PUT", aws)).status).toBe(200);
  expect((await admin(`/v1/admin/tenants/${TENANT}/providers/anthropic`, "PUT", { api_key: ANTHROPIC_TENANT_KEY })).status).toBe(200);
  const gcp = { service_account: tenantAccount, project: "tenant-project-a", region: "europe-west4" };
  expect((await admin(`/v1/admin/tenants/${TENANT}/providers/vertex`, "PUT", gcp)).status).toBe(200);
});

describe("a tenant's own cloud credentials", () => {
  it("carry its Anthropic key to Anthropic's native API, and nobody else's", async () => {
    await ask(TENANT, "anthropic/claude-haiku-4-5");
    expect(lastCall("/v1/messages").headers["x-api-key"]).toBe(ANTHROPIC_TENANT_KEY);
    await ask(OTHER, "anthropic/claude-haiku-4-5");
    expect(lastCall("/v1/messages").headers["x-api-key"]).toBe("sk-ant-router-0123456789");
  });

  it("sign its Bedrock calls with its AWS key for its region, and nobody else's", async () => {
    await ask(TENANT, "bedrock/claude-haiku-4.5");
    expect(signer(lastCall("/model/").headers.authorization)).toBe(`${FAKE_AWS_TENANT.accessKeyId}/${FAKE_AWS_TENANT.region}`);
    await ask(OTHER, "bedrock/claude-haiku-4.5");
    expect(signer(lastCall("/model/").headers.authorization)).toBe(`${FAKE_AWS.accessKeyId}/${FAKE_AWS.region}`);
  });

  it("get its Vertex calls a token of its service account, for its project and region", async () => {
    await ask(TENANT, "vertex/gemini-2.5-flash-lite");
    expect(lastCall(":generateContent").path).toContain("/projects/tenant-project-a/locations/europe-west4/");
    const grant = lastCall(TOKEN_PATH).body as { assertion: string };
    const claims = JSON.parse(Buffer.from(grant.assertion.split(".")[1]!, "base64url").toString("utf8")) as { iss: string };
    expect(claims.iss).toBe((JSON.parse(tenantAccount) as { client_email: string }).client_email);
    await ask(OTHER, "vertex/gemini-2.5-flash-lite");
    expect(lastCall(":generateContent").path).toContain("/projects/router-project/locations/global/");
  });

  it("set for Claude on Vertex (its own provider id), get its rawPredict calls the same, for its project and region", async () => {
    const gcp = { service_account: tenantAccount, project: "tenant-project-a", region: "us-east5" };
    expect((await admin(`/v1/admin/tenants/${TENANT}/providers/vertex-anthropic`, "PUT", gcp)).status).toBe(200);
    await ask(TENANT, "vertex-anthropic/claude-haiku-4.5");
    const call = lastCall(":rawPredict");
    expect(call.path).toBe("/v1/projects/tenant-project-a/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5%4020251001:rawPredict");
    await ask(OTHER, "vertex-anthropic/claude-haiku-4.5");
    expect(lastCall(":rawPredict").path).toContain("/projects/router-project/locations/global/");
    expect(lastCall(":rawPredict").headers.authorization).not.toBe(call.headers.authorization);
  });

  it("are refused with a 400 naming the field when they could not be used", async () => {
    const cases: [string, unknown, string][] = [
      ["bedrock", { access_key_id: FAKE_AWS_TENANT.accessKeyId, secret_access_key: FAKE_AWS_TENANT.secretAccessKey, region: "mars-north-9" }, "region"],
      ["vertex", { service_account: tenantAccount, project: "tenant-project-a", region: "us-cental1" }, "region"],
      ["vertex", { service_account: tenantAccount, project: "Not A Project", region: "global" }, "project"],
      [
        "vertex",
        { service_account: { ...JSON.parse(tenantAccount), token_uri: "http://example.com/token" }, project: "tenant-project-a", region: "global" },
        "service_account",
      ],
    ];
    for (const [provider, body, field] of cases) {
      const response = await admin(`/v1/admin/tenants/${TENANT}/providers/${provider}`, "PUT", body);
      const text = await response.text();
      expect(response.status, text).toBe(400);
      const { error } = JSON.parse(text) as { error: { message: string; param?: string } };
      expect(`${error.param ?? ""} ${error.message}`).toContain(field);
      // The key file's private key is never quoted back.
      expect(text).not.toContain("PRIVATE KEY");
    }
  });
});
