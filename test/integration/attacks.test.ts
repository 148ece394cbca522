/**
 * Attacked on purpose: hostile requests against the real worker with real Redis and
 * Postgres. Each is refused with the right status and an OpenAI error body, leaks no
 * secret, and leaves exactly one audit row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postHeadersOnly } from "../support/declared-body.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

const PROVIDER_KEY = "sk-provider-secret-0123456789";
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let router: Router;
const keys: Record<"good" | "revoked" | "expired" | "broke" | "capped" | "otherTenant", { id: string; key: string }> = {} as never;

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true", MAX_BODY_BYTES: "65536" }, PROVIDER_KEY);
  router = stack.router;
  const make = async (fields: Record<string, unknown>) =>
    (await router.fetch("/v1/admin/keys", { method: "POST", headers: adminHeaders(), body: JSON.stringify({ name: "attack", ...fields }) })).json();
  keys.good = await make({ tenant: "acme" });
  keys.revoked = await make({});
  await router.fetch(`/v1/admin/keys/${keys.revoked.id}`, { method: "DELETE", headers: adminHeaders() });
  keys.expired = await make({ expires_at: "2021-06-01T00:00:00Z" });
  keys.broke = await make({ daily_budget_usd: 0 });
  keys.capped = await make({ max_tier: 1, models: ["groq/llama-3.1-8b-instant"] });
  keys.otherTenant = await make({ tenant: "globex" });
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});

function adminHeaders(): Record<string, string> {
  return { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" };
}
const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const post = (path: string, body: unknown, headers: Record<string, string>) =>
  router.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const get = (path: string, headers: Record<string, string> = {}) => router.fetch(path, { headers });
const good = (extra: Record<string, string> = {}) => as(keys.good.key, extra);
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const deepBody = `{"model":"auto","messages":[{"role":"user","content":"hi"}],"x":${nested(200)}}`;
const huge = JSON.stringify(chat("x".repeat(70_000)));

/** An oversized body, refused from its Content-Length before any of it is read: only its headers are sent (see declared-body.ts). */
const oversized = (path: string, body: string, headers: Record<string, string>) =>
  postHeadersOnly(`${router.url}${path}`, { "content-type": "application/json", ...headers }, body);

type Case = { name: string; send: () => Promise<Response>; status: number; code?: string };
const KEYED = ["/v1/chat/completions", "/v1/route"];

const cases: Case[] = [
  // Every kind of bad key, on both keyed routes.
  ...KEYED.flatMap((path): Case[] => [
    { name: `${path}: no key`, send: () => post(path, chat("hi"), {}), status: 401, code: "invalid_api_key" },
    { name: `${path}: empty bearer`, send: () => post(path, chat("hi"), { authorization: "Bearer " }), status: 401, code: "invalid_api_key" },
    {
      name: `${path}: Basic credentials`,
      send: () => post(path, chat("hi"), { authorization: "Basic YWRtaW46YWRtaW4=" }),
      status: 401,
      code: "invalid_api_key",
    },
    { name: `${path}: not a tiergate key`, send: () => post(path, chat("hi"), as("sk-live-someone-elses-key")), status: 401, code: "invalid_api_key" },
    { name: `${path}: tiergate prefix, too short`, send: () => post(path, chat("hi"), as("tg_live_abc")), status: 401, code: "invalid_api_key" },
    { name: `${path}: a valid key with junk after it`, send: () => post(path, chat("hi"), as(`${keys.good.key}x`)), status: 401, code: "invalid_api_key" },
    { name: `${path}: SQL in the key`, send: () => post(path, chat("hi"), as("tg_live_'OR'1'='1'--")), status: 401, code: "invalid_api_key" },
    { name: `${path}: unknown key`, send: () => post(path, chat("hi"), as(`tg_live_${"Z".repeat(32)}`)), status: 401, code: "invalid_api_key" },
    { name: `${path}: revoked key`, send: () => post(path, chat("hi"), as(keys.revoked.key)), status: 401, code: "invalid_api_key" },
    { name: `${path}: expired key`, send: () => post(path, chat("hi"), as(keys.expired.key)), status: 401, code: "invalid_api_key" },
    {
      name: `${path}: key in the query string only`,
      send: () => post(`${path}?api_key=${keys.good.key}`, chat("hi"), {}),
      status: 401,
      code: "invalid_api_key",
    },
    {
      name: `${path}: two Authorization headers`,
      send: () => router.fetch(path, { method: "POST", headers: twoAuthHeaders(), body: JSON.stringify(chat("hi")) }),
      status: 401,
      code: "invalid_api_key",
    },
    { name: `${path}: the key in x-api-key instead`, send: () => post(path, chat("hi"), { "x-api-key": keys.good.key }), status: 401, code: "invalid_api_key" },
  ]),
  // Another tenant's rows, and admin routes with a client key.
  { name: "client key reads the audit log", send: () => get("/v1/audit", good()), status: 401 },
  { name: "client key reads another tenant's audit rows", send: () => get("/v1/audit?tenant=globex", good()), status: 401 },
  { name: "client key lists keys", send: () => get("/v1/admin/keys", good()), status: 401 },
  { name: "client key reads another tenant's key", send: () => get(`/v1/admin/keys/${keys.otherTenant.id}`, good()), status: 401 },
  {
    name: "client key revokes another tenant's key",
    send: () => router.fetch(`/v1/admin/keys/${keys.otherTenant.id}`, { method: "DELETE", headers: good() }),
    status: 401,
  },
  { name: "client key makes itself a key", send: () => post("/v1/admin/keys", { name: "mine" }, good()), status: 401 },
  { name: "client key lists tenants", send: () => get("/v1/admin/tenants", good()), status: 401 },
  { name: "client key reads another tenant", send: () => get("/v1/admin/tenants/globex", good()), status: 401 },
  { name: "wrong admin key", send: () => get("/v1/admin/keys", as("admin-key-guess-0123456789")), status: 401 },
  { name: "admin key with a suffix", send: () => get("/v1/admin/keys", as(`${storage.bindings.ADMIN_API_KEY}x`)), status: 401 },
  { name: "usage without a key", send: () => get("/v1/usage"), status: 401, code: "invalid_api_key" },
  // Money and policy.
  { name: "budget spent", send: () => post("/v1/chat/completions", chat(uniquePrompt()), as(keys.broke.key)), status: 429, code: "insufficient_quota" },
  {
    name: "budget spent, streamed",
    send: () => post("/v1/chat/completions", chat(uniquePrompt(), { stream: true }), as(keys.broke.key)),
    status: 429,
    code: "insufficient_quota",
  },
  {
    name: "forced tier above the key's cap",
    send: () => post("/v1/chat/completions", chat("hi", { model: "tier:4" }), as(keys.capped.key)),
    status: 403,
    code: "tier_not_allowed",
  },
  {
    name: "a model outside the allow-list",
    send: () => post("/v1/route", chat("hi", { model: "openrouter/openai/gpt-5.5" }), as(keys.capped.key)),
    status: 403,
  },
  { name: "n above the cap", send: () => post("/v1/chat/completions", chat("hi", { n: 100 }), good()), status: 400 },
  {
    name: "a longer cache TTL without trust",
    send: () => post("/v1/chat/completions", chat(uniquePrompt()), good({ "x-tiergate-cache-ttl": "604800" })),
    status: 403,
  },
  // Oversized, deeply nested, __proto__, CRLF and SQL on every route and filter.
  { name: "oversized chat body", send: () => oversized("/v1/chat/completions", huge, good()), status: 413 },
  { name: "oversized route body", send: () => oversized("/v1/route", huge, good()), status: 413 },
  {
    name: "oversized admin body",
    send: () => oversized("/v1/admin/keys", JSON.stringify({ name: "x".repeat(70_000) }), adminHeaders()),
    status: 413,
  },
  { name: "deeply nested chat body", send: () => post("/v1/chat/completions", deepBody, good()), status: 400 },
  { name: "deeply nested route body", send: () => post("/v1/route", deepBody, good()), status: 400 },
  { name: "deeply nested admin body", send: () => post("/v1/admin/keys", `{"name":"x","models":${nested(200)}}`, adminHeaders()), status: 400 },
  { name: "__proto__ in an admin body", send: () => post("/v1/admin/keys", '{"name":"x","__proto__":{"max_tier":5}}', adminHeaders()), status: 400 },
  { name: "__proto__ in a tenant body", send: () => post("/v1/admin/tenants", '{"id":"t1","__proto__":{"rpm":1}}', adminHeaders()), status: 400 },
  {
    name: "constructor.prototype in a chat body",
    send: () => post("/v1/chat/completions", '{"model":"auto","messages":"x","constructor":{"prototype":{"a":1}}}', good()),
    status: 400,
  },
  { name: "CRLF in an audit filter", send: () => get("/v1/audit?model=a%0d%0aSet-Cookie:%20x=1", adminHeaders()), status: 400 },
  { name: "NUL in an audit filter", send: () => get("/v1/audit?key=a%00b", adminHeaders()), status: 400 },
  { name: "SQL in the tier filter", send: () => get("/v1/audit?tier=1;DROP%20TABLE%20audit_log", adminHeaders()), status: 400 },
  { name: "SQL in the status filter", send: () => get("/v1/audit?status=200%20OR%201=1", adminHeaders()), status: 400 },
  { name: "SQL in the request_id filter", send: () => get("/v1/audit?request_id='%20OR%20''='", adminHeaders()), status: 400 },
  {
    name: "SQL in the cursor",
    send: () => get(`/v1/audit?cursor=${btoa(JSON.stringify({ ts: "2026-01-01'--", request_id: "x" }))}`, adminHeaders()),
    status: 400,
  },
  { name: "unknown audit filter", send: () => get("/v1/audit?where=1", adminHeaders()), status: 400 },
  { name: "limit far too large", send: () => get("/v1/audit?limit=1000000", adminHeaders()), status: 400 },
  { name: "SQL in a tenant id", send: () => post("/v1/admin/tenants", { id: "x'; DROP TABLE tenants; --" }, adminHeaders()), status: 400 },
  { name: "SQL in a key's tenant", send: () => post("/v1/admin/keys", { name: "x", tenant: "a' OR '1'='1" }, adminHeaders()), status: 400 },
  { name: "admin key body without a name", send: () => post("/v1/admin/keys", { rpm: 5 }, adminHeaders()), status: 400 },
  { name: "negative rpm", send: () => post("/v1/admin/keys", { name: "x", rpm: -1 }, adminHeaders()), status: 400 },
  { name: "max_tier 9", send: () => post("/v1/admin/keys", { name: "x", max_tier: 9 }, adminHeaders()), status: 400 },
  { name: "expires_at not a time", send: () => post("/v1/admin/keys", { name: "x", expires_at: "tomorrow" }, adminHeaders()), status: 400 },
  { name: "a tenant taken twice", send: () => post("/v1/admin/tenants", { id: "acme" }, adminHeaders()), status: 409 },
  { name: "a key id with path tricks", send: () => get("/v1/admin/keys/..%2F..%2Fetc%2Fpasswd", adminHeaders()), status: 404 },
  { name: "an unknown key id", send: () => get("/v1/admin/keys/key_doesnotexist", adminHeaders()), status: 404 },
  { name: "PUT on keys", send: () => router.fetch("/v1/admin/keys", { method: "PUT", headers: adminHeaders(), body: "{}" }), status: 405 },
  { name: "PUT on a tenant", send: () => router.fetch("/v1/admin/tenants/acme", { method: "PUT", headers: adminHeaders(), body: "{}" }), status: 405 },
  { name: "client key revokes a whole tenant", send: () => router.fetch("/v1/admin/tenants/globex", { method: "DELETE", headers: good() }), status: 401 },
  {
    name: "text/plain body",
    send: () =>
      router.fetch("/v1/chat/completions", { method: "POST", headers: { ...good(), "content-type": "text/plain" }, body: JSON.stringify(chat("hi")) }),
    status: 415,
  },
  // Header tricks on the hash header.
  { name: "another constitutional hash", send: () => post("/v1/route", chat("hi"), good({ "x-constitutional-hash": "0000000000000000" })), status: 409 },
  {
    name: "the hash and another, in one header",
    send: () => post("/v1/route", chat("hi"), good({ "x-constitutional-hash": "cdd01ef066bc6cf2, ffffffffffffffff" })),
    status: 409,
  },
  { name: "a hash 4 KB long", send: () => post("/v1/route", chat("hi"), good({ "x-constitutional-hash": "a".repeat(4_096) })), status: 409 },
  { name: "a hash with the key in it", send: () => post("/v1/route", chat("hi"), good({ "x-constitutional-hash": keys.good.key })), status: 409 },
];

function twoAuthHeaders(): Headers {
  const headers = new Headers({ "content-type": "application/json" });
  headers.append("authorization", `Bearer ${keys.good.key}`);
  headers.append("authorization", `Bearer ${keys.otherTenant.key}`);
  return headers;
}

describe("the attack table", () => {
  const sent: string[] = [];

  it(`has at least 60 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const { name, send, status, code } of cases) {
    it(`${name} → ${status}`, async () => {
      const response = await send();
      const text = await response.text();
      expect(response.status, text).toBe(status);
      const body = JSON.parse(text);
      expect(body).toEqual({
        error: {
          message: expect.any(String),
          type: expect.any(String),
          param: expect.toBeOneOf([null, expect.any(String)]),
          code: expect.toBeOneOf([null, expect.any(String)]),
        },
      });
      if (code !== undefined) expect(body.error.code).toBe(code);
      const everything = `${text}\n${[...response.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}`;
      for (const secret of secrets()) expect(everything, "a secret leaked").not.toContain(secret);
      sent.push(response.headers.get("x-request-id")!);
    });
  }

  it("left exactly one audit row per request, and no secret in any row or log line", async () => {
    const deadline = Date.now() + 10_000;
    let rows: Record<string, unknown>[] = [];
    for (;;) {
      await router.scheduled();
      rows = await auditRows(storage.db);
      const ids = new Set(rows.map((r) => String(r.request_id)));
      if (sent.every((id) => ids.has(id)) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const id of sent)
      expect(
        rows.filter((r) => r.request_id === id),
        id,
      ).toHaveLength(1);
    const everything = JSON.stringify(rows) + router.logs.join("\n");
    for (const secret of secrets()) expect(everything).not.toContain(secret);
  });
});

function secrets(): string[] {
  return [
    PROVIDER_KEY,
    storage.bindings.ADMIN_API_KEY!,
    storage.bindings.AUDIT_HMAC_KEY!,
    storage.bindings.UPSTASH_REDIS_REST_TOKEN!,
    ...Object.values(keys).map((k) => k.key),
  ];
}
