/**
 * The middleware in-process, as Hono's own tests do: `app.request()` on the app the
 * worker serves, with bindings and an execution context, no server and no build, so
 * it always runs the current source. (The same paths through workerd: test/integration.)
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { CONSTITUTIONAL_HASH } from "../../src/config/constitution.ts";

const app = createApp();
const context = () => {
  const pending: Promise<unknown>[] = [];
  return { pending, ctx: { waitUntil: (work: Promise<unknown>) => void pending.push(work), passThroughOnException: () => {}, props: {} } };
};
/** One request through the app, waiting for the work it left to `waitUntil`. */
async function request(path: string, init: RequestInit = {}, bindings: Record<string, string> = {}): Promise<Response> {
  const { pending, ctx } = context();
  const response = await app.request(path, init, bindings, ctx as unknown as Parameters<typeof app.request>[3]);
  await Promise.all(pending);
  return response;
}
const route = (body: unknown, headers: Record<string, string> = {}, bindings: Record<string, string> = {}) =>
  request(
    "/v1/route",
    { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) },
    bindings,
  );
const hi = { model: "auto", messages: [{ role: "user", content: "hi" }] };

describe("edge", () => {
  it("gives every answer the hash, a request id and the security headers", async () => {
    for (const response of [await request("/health"), await request("/nowhere"), await route(hi)]) {
      expect(response.headers.get("x-constitutional-hash")).toBe(CONSTITUTIONAL_HASH);
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });

  it("answers 500 misconfigured, in OpenAI's error format, when a vital setting is bad", async () => {
    const response = await request("/health", {}, { AUDIT_MODE: "sometimes" });
    expect(response.status).toBe(500);
    expect((await response.json()).error).toMatchObject({ code: "misconfigured", message: expect.stringContaining("AUDIT_MODE") });
  });

  it("says which stores are missing", async () => {
    expect((await route(hi)).headers.get("x-tiergate-degraded")).toBe("redis,postgres");
  });
});

describe("the constitutional hash", () => {
  it("lets the pinned hash through, twice too, and refuses another with 409", async () => {
    expect((await route(hi, { "x-constitutional-hash": CONSTITUTIONAL_HASH })).status).toBe(200);
    expect((await route(hi, { "x-constitutional-hash": `${CONSTITUTIONAL_HASH}, ${CONSTITUTIONAL_HASH}` })).status).toBe(200);
    const refused = await route(hi, { "x-constitutional-hash": "0000000000000000" });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error).toMatchObject({ code: "constitutional_hash_mismatch", param: "x-constitutional-hash" });
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    request("/v1/route", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } }, { CORS_ORIGINS: "https://app.example" });

  it("answers a listed origin's preflight, and gives another origin nothing", async () => {
    const allowed = await preflight("https://app.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("routes and bodies", () => {
  it("refuses an unknown route (404) and a wrong method (405, with Allow) in OpenAI's format", async () => {
    expect((await (await request("/v2/nothing")).json()).error).toMatchObject({ code: "not_found" });
    const wrong = await request("/v1/route");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });

  it("refuses a body that is not JSON (400) and one over MAX_BODY_BYTES (413)", async () => {
    expect((await route("{")).status).toBe(400);
    const big = await route({ ...hi, messages: [{ role: "user", content: "x".repeat(500) }] }, {}, { MAX_BODY_BYTES: "200" });
    expect(big.status).toBe(413);
  });

  it("decides without a provider call and says why, with the cache bypassed", async () => {
    const response = await route({ model: "tier:3", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-tiergate-cache")).toBe("BYPASS");
    expect(await response.json()).toMatchObject({ tier: 3, mode: "tier", reasons: expect.arrayContaining([expect.stringContaining("forced by the request")]) });
  });
});

describe("admin routes", () => {
  const admin = { ADMIN_API_KEY: "unit-admin-key-0123456789" };
  it("are guarded for the methods they serve: a wrong method is a 405, an unknown path a 404, before any key is asked for", async () => {
    expect((await request("/v1/admin/keys", { method: "PUT" }, admin)).status).toBe(405);
    expect((await request("/v1/audit", { method: "PUT" }, admin)).status).toBe(405);
    expect((await request("/metrics", { method: "POST" }, admin)).status).toBe(405);
    expect((await request("/v1/admin/nothing", {}, admin)).status).toBe(404);
  });

  it("refuse a served method without the admin key, and no shared cache may keep the refusal", async () => {
    for (const path of ["/v1/admin/keys", "/v1/audit", "/v1/audit/summary", "/v1/admin/tenants/acme", "/dashboard/data", "/metrics"]) {
      const response = await request(path, {}, admin);
      expect(response.status, path).toBe(401);
      expect(response.headers.get("cache-control"), path).toBe("no-store");
      expect((await response.json()).error.code, path).toBe("missing_api_key");
    }
  });

  it("open /metrics to the scrape token alone of the admin routes", async () => {
    const bindings = { ...admin, METRICS_TOKEN: "unit-scrape-token-0123456789" };
    const scrape = { headers: { authorization: `Bearer ${bindings.METRICS_TOKEN}` } };
    // Past the guard, /metrics needs Redis (503 here); the audit log refuses the token.
    expect((await request("/metrics", scrape, bindings)).status).toBe(503);
    expect((await request("/v1/audit", scrape, bindings)).status).toBe(401);
  });
});

describe("client keys", () => {
  it("refuses a request without a key when keys are required, before any other work", async () => {
    const response = await route(hi, {}, { REQUIRE_API_KEY: "true" });
    expect(response.status).toBe(401);
    expect((await response.json()).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" }); // as OpenAI answers
  });
});
