/** Client API keys against the real worker, Redis and Postgres: made, used, refused with a reason, revoked. */
import { createHash } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import { buildServices } from "../../src/services/index.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let open: Awaited<ReturnType<typeof startWithFakeProvider>>;
let required: Awaited<ReturnType<typeof startWithFakeProvider>>;
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  storage = await startTestStorage();
  open = await startWithFakeProvider(storage.bindings);
  required = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
});
afterAll(async () => {
  await open.close();
  await required.close();
  await storage.close();
});

async function makeKey(fields: Record<string, unknown>): Promise<{ id: string; key: string; tenant_id: string | null }> {
  const response = await open.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify(fields) });
  expect(response.status).toBe(201);
  return response.json();
}

async function rowFor(requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    await open.router.scheduled();
    const row = (await auditRows(storage.db)).find((r) => r.request_id === requestId);
    if (row !== undefined || Date.now() > deadline) return row!;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("before any key exists", () => {
  it("serves without a key, and ignores a placeholder key that is not ours", async () => {
    expect((await open.router.post("/v1/chat/completions", chat(uniquePrompt()))).status).toBe(200);
    expect((await open.router.post("/v1/chat/completions", chat(uniquePrompt()), bearer("sk-placeholder"))).status).toBe(200);
  });
});

describe("with Postgres out of reach and REQUIRE_API_KEY unset", () => {
  it("requires a key rather than let keyless requests through the outage", async () => {
    const cut = await startWithFakeProvider({ ...storage.bindings, NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql", POSTGRES_TIMEOUT_MS: "200" });
    try {
      expect((await cut.router.post("/v1/route", chat("hi"))).status).toBe(401);
    } finally {
      await cut.close();
    }
  });
});

describe("making and using keys", () => {
  it("shows the key once at creation, stores only its SHA-256 and prefix, and lists without it", async () => {
    const made = await makeKey({ name: "ci bot", tenant: "acme", rpm: 60, max_tier: 3 });
    expect(made.key).toMatch(/^tg_live_[0-9A-Za-z]{32}$/);
    expect(made.tenant_id).toBe("acme");
    const stored = (await storage.db.query("SELECT * FROM api_keys WHERE id = $1", [made.id])).rows[0];
    expect(stored.key_sha256).toBe(createHash("sha256").update(made.key).digest("hex"));
    expect(stored.prefix).toBe(made.key.slice(0, 12));
    expect(JSON.stringify(stored)).not.toContain(made.key);
    const list = await (await open.router.fetch("/v1/admin/keys", { headers: admin() })).json();
    expect(list.data.map((k: { id: string }) => k.id)).toContain(made.id);
    expect(JSON.stringify(list)).not.toContain(made.key);
    expect(JSON.stringify(list)).not.toContain(stored.key_sha256);
    const shown = await (await open.router.fetch(`/v1/admin/keys/${made.id}`, { headers: admin() })).json();
    expect(shown).toMatchObject({ id: made.id, name: "ci bot", rpm: 60, max_tier: 3, spend: { today_usd: 0, month_usd: 0 } });
    const tenant = await (await open.router.fetch("/v1/admin/tenants/acme", { headers: admin() })).json();
    expect(tenant).toMatchObject({ id: "acme", spend: { month_usd: 0 } });
  });

  it("lets the official openai client use a key unchanged, and records the key id and tenant, never the key", async () => {
    const made = await makeKey({ name: "sdk", tenant: "globex" });
    const client = new OpenAI({ baseURL: `${required.router.url}/v1`, apiKey: made.key, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: uniquePrompt() }] }).withResponse();
    const row = await rowFor(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({ key_id: made.id, tenant_id: "globex", http_status: 200 });
    expect(JSON.stringify(await auditRows(storage.db))).not.toContain(made.key);
    const byTenant = await (await open.router.fetch("/v1/audit?tenant=globex", { headers: admin() })).json();
    expect(byTenant.data.map((r: { request_id: string }) => r.request_id)).toEqual([row.request_id]);
    const byKey = await (await open.router.fetch(`/v1/audit?key=${made.id}`, { headers: admin() })).json();
    expect(byKey.data).toHaveLength(1);
  });

  it("requires keys by default once one exists", async () => {
    await makeKey({ name: "exists" });
    const fresh = await startWithFakeProvider(storage.bindings);
    try {
      const response = await fresh.router.post("/v1/chat/completions", chat(uniquePrompt()));
      expect(response.status).toBe(401);
    } finally {
      await fresh.close();
    }
  });
});

describe("refusals, each with its reason in the audit row and no provider call", () => {
  const cases: { name: string; headers: () => Promise<Record<string, string>>; reason: string }[] = [
    { name: "no key", headers: async () => ({}), reason: "missing" },
    { name: "a Basic header", headers: async () => ({ authorization: "Basic dXNlcjpwYXNz" }), reason: "malformed" },
    { name: "not a tiergate key", headers: async () => bearer("sk-not-ours-0123456789"), reason: "malformed" },
    { name: "an unknown tiergate key", headers: async () => bearer(`tg_live_${"A".repeat(32)}`), reason: "unknown" },
    {
      name: "an expired key",
      headers: async () => bearer((await makeKey({ name: "old", expires_at: "2020-01-01T00:00:00Z" })).key),
      reason: "expired",
    },
    {
      name: "a revoked key",
      headers: async () => {
        const made = await makeKey({ name: "revoked soon" });
        expect((await required.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(200);
        // Revoked through the router that has the key in its isolate cache: it forgets it at once.
        const revoked = await required.router.fetch(`/v1/admin/keys/${made.id}`, { method: "DELETE", headers: admin() });
        expect((await revoked.json()).revoked_at).not.toBeNull();
        return bearer(made.key);
      },
      reason: "revoked",
    },
  ];
  for (const { name, headers, reason } of cases) {
    it(`${name} → 401 invalid_api_key (${reason})`, async () => {
      const seen = required.fake.seen.length;
      const response = await required.router.post("/v1/chat/completions", chat(uniquePrompt()), await headers());
      expect(response.status).toBe(401);
      const body = await response.json();
      expect(body).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param: null, code: "invalid_api_key" } });
      expect(required.fake.seen.length).toBe(seen);
      const row = await rowFor(response.headers.get("x-request-id")!);
      expect(row).toMatchObject({ http_status: 401, error_code: `invalid_api_key:${reason}`, key_id: null });
    });
  }

  it("a revoked key is refused at once by a router that never saw it, too (its record in Redis says so)", async () => {
    const made = await makeKey({ name: "revoke everywhere" });
    expect((await required.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(200);
    await open.router.fetch(`/v1/admin/keys/${made.id}`, { method: "DELETE", headers: admin() });
    const other = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    try {
      expect((await other.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("a look-up that read Postgres before a revocation never writes the key back as live", async () => {
    const made = await makeKey({ name: "revoked mid-look-up" });
    const hash = createHash("sha256").update(made.key).digest("hex");
    const record = `${storage.prefix}:key:r3:${hash}`;
    // A router finds the record gone (Redis lost it), reads the live row from Postgres, and is slow to write it back…
    expect(await storage.redis.del(record)).toBe(1);
    const services = buildServices(parseConfig(storage.bindings));
    const redis = services.redis!;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = { set: async (...args: Parameters<typeof redis.set>) => held.then(() => redis.set(...args)) };
    expect(await services.keys.lookup(hash, undefined, slow as unknown as Pick<typeof redis, "set">)).toMatchObject({ revoked: false });
    // …while the key is revoked, which writes its record as revoked.
    expect((await open.router.fetch(`/v1/admin/keys/${made.id}`, { method: "DELETE", headers: admin() })).status).toBe(200);
    release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(JSON.parse((await storage.redis.get(record))!)).toMatchObject({ revoked: true });
    const other = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    try {
      expect((await other.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("revoking a tenant revokes every one of its keys", async () => {
    const a = await makeKey({ name: "a", tenant: "umbrella" });
    const b = await makeKey({ name: "b", tenant: "umbrella" });
    const response = await required.router.fetch("/v1/admin/tenants/umbrella", { method: "DELETE", headers: admin() });
    expect(await response.json()).toMatchObject({ id: "umbrella", keys_revoked: 2 });
    for (const { key } of [a, b]) expect((await required.router.post("/v1/route", chat("hi"), bearer(key))).status).toBe(401);
    expect((await required.router.fetch("/v1/admin/tenants/nobody", { method: "DELETE", headers: admin() })).status).toBe(404);
  });

  it("admin routes refuse a client key", async () => {
    const made = await makeKey({ name: "not an admin" });
    const response = await open.router.fetch("/v1/admin/keys", { headers: bearer(made.key) });
    expect(response.status).toBe(401);
    expect((await open.router.fetch("/v1/audit", { headers: bearer(made.key) })).status).toBe(401);
  });
});

describe("npm run keys", () => {
  it("creates, lists, shows and revokes, the same as the admin routes", async () => {
    const keys = async (...args: string[]) => {
      const run = await runScript(storage, "keys", args);
      expect(run.code).toBe(0);
      return run;
    };
    const made = JSON.parse((await keys("create", "--name", "from the cli", "--tenant", "initech", "--rpm", "30")).stdout);
    expect(made).toMatchObject({ name: "from the cli", tenant_id: "initech", rpm: 30 });
    expect((await required.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(200);
    const listed = JSON.parse((await keys("list", "--tenant", "initech")).stdout);
    expect(listed.map((k: { id: string }) => k.id)).toEqual([made.id]);
    expect(JSON.parse((await keys("show", made.id)).stdout).id).toBe(made.id);
    expect(JSON.parse((await keys("revoke", made.id)).stdout).revoked_at).not.toBeNull();
    const other = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
    try {
      expect((await other.router.post("/v1/route", chat("hi"), bearer(made.key))).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});
