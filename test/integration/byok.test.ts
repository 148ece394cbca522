/**
 * Tenants' own provider keys (issue 38, BYOK), against real Redis and Postgres, the fake
 * provider and the `openai` client: the admin API, whose credential each request uses, the
 * sealed column, byok_only, BYOK_BILLING, a revoked customer key, a KEK rotation under load,
 * and the credential found nowhere it must not be.
 */
import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BEHAVIOUR, type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { kekIdOf } from "../../src/crypto/credential-seal.ts";
import { spentToday } from "../support/clients.ts";
import { type Router, startRouter, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

const kek = (): string => randomBytes(32).toString("base64");
const KEK_1 = kek();
const KEK_2 = kek();
const ROUTER_KEY = "router-openrouter-key-0123456789";
/** Easy to grep for, anywhere it must not be. */
const TENANT_KEY = `sk-tenant-GREPME-${randomBytes(12).toString("hex")}`;
const OTHER_TENANT_KEY = `sk-tenant-GREPME-${randomBytes(12).toString("hex")}`;
const DEEPSEEK = "openrouter/deepseek/deepseek-v4-pro";
const HAIKU = "openrouter/anthropic/claude-haiku-4.5";
const entry = (id: string) => {
  const [provider, ...upstream] = id.split("/");
  return { id, provider, upstream_model: upstream.join("/"), tier: 3, context_window: 131_072, capabilities: ["tools", "json", "streaming"] };
};

let storage: TestStorage;
let fake: FakeUpstream;
let router: Router;
const routers: Router[] = [];
/** Every error body a client got: none may hold a credential. */
const errorBodies: string[] = [];
const suffix = randomBytes(3).toString("hex");
const TENANT = `byok-a-${suffix}`;
const OTHER = `byok-b-${suffix}`;

const bindings = (extra: Record<string, string> = {}): Record<string, string> => ({
  ...storage.bindings,
  OPENROUTER_BASE_URL: fake.url,
  OPENROUTER_API_KEY: ROUTER_KEY,
  REQUIRE_API_KEY: "true",
  UPSTREAM_RETRY_BASE_MS: "5",
  MODELS_JSON: JSON.stringify([entry(DEEPSEEK), entry(HAIKU)]),
  PROVIDER_KEYS_KEK: KEK_1,
  BREAKER_FAILURES: "2",
  HEALTH_CACHE_MS: "100",
  ...extra,
});
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const adminCall = (path: string, method: string, body?: unknown, on = router) =>
  on.fetch(path, { method, headers: admin(), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function makeKey(tenant: string, fields: Record<string, unknown> = {}): Promise<{ key: string; id: string }> {
  const made = await adminCall("/v1/admin/keys", "POST", { name: "byok", tenant, ...fields });
  expect(made.status).toBe(201);
  return (await made.json()) as { key: string; id: string };
}

const clientFor = (key: string, on = router) => new OpenAI({ baseURL: `${on.url}/v1`, apiKey: key, maxRetries: 0 });
const ask = (key: string, on = router, model = DEEPSEEK) =>
  clientFor(key, on)
    .chat.completions.create({ model, messages: [{ role: "user", content: uniquePrompt() }] })
    .withResponse();
/** A request whose failure is kept: its body joins those searched for credentials. */
async function failing(key: string, on = router): Promise<{ status: number; body: string }> {
  const response = await on.fetch("/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: DEEPSEEK, messages: [{ role: "user", content: uniquePrompt() }] }),
  });
  const body = await response.text();
  errorBodies.push(body);
  return { status: response.status, body };
}
const bearerSeen = (): string | undefined => fake.seen.at(-1)?.headers.authorization;

async function flushed(keyId: string, count: number, on = router): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 10_000;
  let rows: Record<string, unknown>[] = [];
  while (Date.now() < deadline) {
    await on.scheduled();
    rows = (await auditRows(storage.db)).filter((row) => row.key_id === keyId);
    if (rows.length >= count) break;
  }
  return rows;
}

let tenantKey: { key: string; id: string };
let otherKey: { key: string; id: string };

beforeAll(async () => {
  storage = await startTestStorage();
  fake = await startFakeUpstream();
  router = await startRouter(bindings());
  routers.push(router);
  for (const tenant of [TENANT, OTHER]) expect((await adminCall("/v1/admin/tenants", "POST", { id: tenant })).status).toBe(201);
  tenantKey = await makeKey(TENANT, { daily_budget_usd: 5 });
  otherKey = await makeKey(OTHER, { daily_budget_usd: 5 });
}, 90_000);
afterAll(async () => {
  for (const each of routers) await each.close();
  await fake?.close();
  await storage?.close();
});

describe("the admin API of tenants' provider keys", () => {
  it("sets a credential, shows only its last four characters and when, lists it, and removes it", async () => {
    const put = await adminCall(`/v1/admin/tenants/${TENANT}/providers/openrouter`, "PUT", { api_key: TENANT_KEY });
    const putText = await put.text();
    expect(put.status).toBe(200);
    expect(putText).not.toContain(TENANT_KEY);
    expect(JSON.parse(putText)).toMatchObject({ provider: "openrouter", set: true, last_four: TENANT_KEY.slice(-4), kek_id: await kekIdOf(KEK_1) });

    const shown = await (await adminCall(`/v1/admin/tenants/${TENANT}/providers/openrouter`, "GET")).text();
    expect(shown).not.toContain(TENANT_KEY);
    expect(JSON.parse(shown)).toMatchObject({ set: true, last_four: TENANT_KEY.slice(-4), set_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(await (await adminCall(`/v1/admin/tenants/${TENANT}/providers/groq`, "GET")).json()).toMatchObject({ provider: "groq", set: false });

    expect((await adminCall(`/v1/admin/tenants/${OTHER}/providers/groq`, "PUT", { api_key: OTHER_TENANT_KEY })).status).toBe(200);
    const listed = (await (await adminCall(`/v1/admin/tenants/${OTHER}/providers`, "GET")).json()) as { data: { provider: string }[] };
    expect(listed.data.map((row) => row.provider)).toEqual(["groq"]);
    expect((await adminCall(`/v1/admin/tenants/${OTHER}/providers/groq`, "DELETE")).status).toBe(200);
    expect((await adminCall(`/v1/admin/tenants/${OTHER}/providers/groq`, "DELETE")).status).toBe(404);
    expect(((await (await adminCall(`/v1/admin/tenants/${OTHER}/providers`, "GET")).json()) as { data: unknown[] }).data).toEqual([]);
  });

  it("refuses bad input with a 4xx naming the field, the provider or the tenant", async () => {
    const cases: [string, string, unknown, number, string | RegExp][] = [
      [TENANT, "openrouter", {}, 400, "api_key"],
      [TENANT, "openrouter", { api_key: 5 }, 400, "api_key"],
      [TENANT, "openrouter", { api_key: "short" }, 400, "api_key"],
      [TENANT, "openrouter", { api_key: TENANT_KEY, region: "us-east-1" }, 400, /region/],
      [TENANT, "azure-openai", { api_key: "azure-tenant-key-0123", endpoint: "not a url" }, 400, "endpoint"],
      [TENANT, "no-such-provider", { api_key: TENANT_KEY }, 404, /no-such-provider/],
      [`nobody-${suffix}`, "openrouter", { api_key: TENANT_KEY }, 404, /tenant/],
    ];
    for (const [tenant, provider, body, status, names] of cases) {
      const response = await adminCall(`/v1/admin/tenants/${tenant}/providers/${provider}`, "PUT", body);
      const text = await response.text();
      errorBodies.push(text);
      expect(response.status, JSON.stringify(body)).toBe(status);
      const { error } = JSON.parse(text) as { error: { message: string; param?: string } };
      expect(`${error.param ?? ""} ${error.message}`).toMatch(names);
    }
    const bytes = await adminCall(`/v1/admin/tenants/${TENANT}`, "PATCH", { byok_only: "yes" });
    expect(bytes.status).toBe(400);
    expect(((await bytes.json()) as { error: { param: string } }).error.param).toBe("byok_only");
    const noAdmin = await router.fetch(`/v1/admin/tenants/${TENANT}/providers/openrouter`, { method: "PUT", body: JSON.stringify({ api_key: TENANT_KEY }) });
    expect(noAdmin.status).toBe(401);
  });

  it("stores the credential sealed: no column holds it, and the IV is fresh per row", async () => {
    const { rows } = await storage.db.query("SELECT * FROM provider_credentials WHERE tenant_id = $1", [TENANT]);
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, string>;
    expect(JSON.stringify(row)).not.toContain(TENANT_KEY);
    expect(JSON.stringify(row)).not.toContain(Buffer.from(TENANT_KEY).toString("base64").slice(0, 16));
    expect(row).toMatchObject({ kek_id: await kekIdOf(KEK_1), last_four: TENANT_KEY.slice(-4) });
    expect(Buffer.from(row.iv!, "base64")).toHaveLength(12);
    // Setting the same credential again seals it afresh.
    await adminCall(`/v1/admin/tenants/${TENANT}/providers/openrouter`, "PUT", { api_key: TENANT_KEY });
    const again = (await storage.db.query("SELECT iv, ciphertext FROM provider_credentials WHERE tenant_id = $1", [TENANT])).rows[0] as Record<string, string>;
    expect(again.iv).not.toBe(row.iv);
    expect(again.ciphertext).not.toBe(row.ciphertext);
  });
});

describe("requests on the tenant's own credential", () => {
  it("a tenant with a key of its own is served on it; another tenant on the router's; the audit row says whose", async () => {
    fake.behaviour = { ...DEFAULT_BEHAVIOUR };
    const mine = await ask(tenantKey.key);
    expect(mine.data.choices[0]?.message.content).toMatch(/^Fake/);
    expect(bearerSeen()).toBe(`Bearer ${TENANT_KEY}`);
    await ask(otherKey.key);
    expect(bearerSeen()).toBe(`Bearer ${ROUTER_KEY}`);
    const [own] = await flushed(tenantKey.id, 1);
    const [theirs] = await flushed(otherKey.id, 1);
    expect(own).toMatchObject({ credential: "tenant", http_status: 200 });
    expect(Number(own!.cost_usd)).toBeGreaterThan(0);
    expect(theirs).toMatchObject({ credential: "router", http_status: 200 });
    // Budgets apply at list price (BYOK_BILLING=list): the tenant's spend is its rows' cost.
    expect(await spentToday(router, tenantKey.key)).toBeCloseTo(Number(own!.cost_usd), 6);
  });

  it("a byok_only tenant is served on its own credentials only, and told what to set when it has none", async () => {
    const tenant = `byok-only-${suffix}`;
    expect((await adminCall("/v1/admin/tenants", "POST", { id: tenant, byok_only: true })).status).toBe(201);
    const key = await makeKey(tenant);
    const refused = await failing(key.key);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).error.message).toContain(`PUT /v1/admin/tenants/${tenant}/providers/openrouter`);
    expect(fake.seen.some((seen) => seen.headers.authorization === `Bearer ${ROUTER_KEY}` && JSON.stringify(seen.body).includes(tenant))).toBe(false);

    const route = async () =>
      (await (
        await router.fetch("/v1/route", {
          method: "POST",
          headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
          body: JSON.stringify({ model: DEEPSEEK, messages: [{ role: "user", content: "hi" }] }),
        })
      ).json()) as { provider_configured: boolean };
    expect((await route()).provider_configured).toBe(false);

    const ownKey = `sk-tenant-GREPME-only-${suffix}-0123`;
    expect((await adminCall(`/v1/admin/tenants/${tenant}/providers/openrouter`, "PUT", { api_key: ownKey })).status).toBe(200);
    await ask(key.key);
    expect(bearerSeen()).toBe(`Bearer ${ownKey}`);
    expect((await route()).provider_configured).toBe(true);
    // Unset byok_only: still served on its own credential where it has one.
    expect(await (await adminCall(`/v1/admin/tenants/${tenant}`, "PATCH", { byok_only: false })).json()).toMatchObject({ byok_only: false });
    await ask(key.key);
    expect(bearerSeen()).toBe(`Bearer ${ownKey}`);
  });

  it("BYOK_BILLING=none charges budgets nothing for an answer on the tenant's credential; its row still has the cost", async () => {
    const free = await startRouter(bindings({ BYOK_BILLING: "none" }));
    routers.push(free);
    const tenant = `byok-free-${suffix}`;
    await adminCall("/v1/admin/tenants", "POST", { id: tenant }, free);
    await adminCall(`/v1/admin/tenants/${tenant}/providers/openrouter`, "PUT", { api_key: `sk-tenant-GREPME-free-${suffix}-0123` }, free);
    const key = await makeKey(tenant, { daily_budget_usd: 0.00001 });
    const other = await makeKey(OTHER, { daily_budget_usd: 5 });
    for (let i = 0; i < 3; i++) await ask(key.key, free);
    await ask(other.key, free);
    const rows = await flushed(key.id, 3, free);
    expect(rows.every((row) => row.credential === "tenant" && Number(row.cost_usd) > 0)).toBe(true);
    // Three answers cost more than the whole budget, and none of it was charged.
    expect(rows.reduce((sum, row) => sum + Number(row.cost_usd), 0)).toBeGreaterThan(0.00001);
    expect(await spentToday(free, key.key)).toBe(0);
    // Embeddings on its own credential too: many more tokens than the budget holds, served, and nothing charged.
    const embedded = await clientFor(key.key, free).embeddings.create({
      model: "auto",
      input: Array.from({ length: 50 }, () => uniquePrompt("embed ".repeat(200))),
    });
    expect(embedded.data).toHaveLength(50);
    expect((await flushed(key.id, 4, free)).some((row) => row.surface === "embeddings" && Number(row.cost_usd) > 0)).toBe(true);
    expect(await spentToday(free, key.key)).toBe(0);
    // The router's credential is charged as ever.
    const [otherRow] = await flushed(other.id, 1, free);
    expect(otherRow).toMatchObject({ credential: "router" });
    expect(await spentToday(free, other.key)).toBeCloseTo(Number(otherRow!.cost_usd), 6);
  });
});

describe("a deleted credential", () => {
  it("leaves the key records even when a first DELETE's records were lost: the DELETE sent again publishes them", async () => {
    const tenant = `byok-del-${suffix}`;
    const key = await makeKey(tenant);
    const own = `sk-tenant-GREPME-${randomBytes(12).toString("hex")}`;
    expect((await adminCall(`/v1/admin/tenants/${tenant}/providers/openrouter`, "PUT", { api_key: own })).status).toBe(200);
    fake.behaviour = { ...DEFAULT_BEHAVIOUR };
    await ask(key.key);
    expect(bearerSeen()).toBe(`Bearer ${own}`);
    // The first DELETE took the row, and Redis refused the records (its 503 said to send it again): as if so.
    await storage.db.query("DELETE FROM provider_credentials WHERE tenant_id = $1", [tenant]);
    expect((await adminCall(`/v1/admin/tenants/${tenant}/providers/openrouter`, "DELETE")).status).toBe(404);
    // A fresh isolate reads the key's record from Redis: the credential is gone from it.
    const fresh = await startRouter(bindings());
    routers.push(fresh);
    await ask(key.key, fresh);
    expect(bearerSeen()).toBe(`Bearer ${ROUTER_KEY}`);
  });
});

describe("a revoked customer key", () => {
  it("fails only its tenant's requests, opens only its tenant's circuit, and never shows the key", async () => {
    fake.behaviour = { ...DEFAULT_BEHAVIOUR, refusedKeys: [TENANT_KEY] };
    for (let i = 0; i < 4; i++) {
      const failed = await failing(tenantKey.key);
      expect([502, 503]).toContain(failed.status);
      expect(failed.body).not.toContain(TENANT_KEY);
    }
    const first = JSON.parse(errorBodies.at(-4)!) as { error: { code: string; message: string } };
    expect(first.error.code).toBe("upstream_auth_failed");
    expect(first.error.message).toContain("the tenant's own credential");
    for (let i = 0; i < 4; i++) expect((await ask(otherKey.key)).response.status).toBe(200);
    const states = await storage.redis.hGetAll(`${storage.prefix}:health:breakers`);
    expect(Object.keys(states).filter((target) => !target.startsWith(`credential:tenant:${TENANT}`))).toEqual([]);
    expect(Object.keys(states)).toContain(`credential:tenant:${TENANT}:openrouter`);
    fake.behaviour = { ...DEFAULT_BEHAVIOUR };
  });
});

describe("rotating the key-encryption key", () => {
  it("keeps every request served while keys:rotate-kek re-seals under the new key, which alone then reads them", async () => {
    const tenant = `byok-rot-${suffix}`;
    const rotKey = `sk-tenant-GREPME-rot-${suffix}-0123`;
    await adminCall("/v1/admin/tenants", "POST", { id: tenant });
    await adminCall(`/v1/admin/tenants/${tenant}/providers/openrouter`, "PUT", { api_key: rotKey });
    const key = await makeKey(tenant);
    // The deploy: the new key current, the old one previous.
    const rotating = await startRouter(bindings({ PROVIDER_KEYS_KEK: KEK_2, PROVIDER_KEYS_KEK_PREVIOUS: KEK_1 }));
    routers.push(rotating);
    let stop = false;
    const statuses: number[] = [];
    const seenKeys = new Set<string>();
    const send = async (clientKey: string): Promise<void> => {
      const response = await rotating.fetch("/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${clientKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: DEEPSEEK, messages: [{ role: "user", content: uniquePrompt() }] }),
      });
      statuses.push(response.status);
      await response.arrayBuffer();
      seenKeys.add(String(bearerSeen()));
    };
    const load = (async () => {
      while (!stop) {
        // The isolate's key as it has it, and a key it has never seen: its record read now holds whichever seal is current.
        await send(key.key);
        const fresh = await rotating.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "rot", tenant }) });
        await send(((await fresh.json()) as { key: string }).key);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const run = await runScript(storage, "keys:rotate-kek", [], { PROVIDER_KEYS_KEK: KEK_2, PROVIDER_KEYS_KEK_PREVIOUS: KEK_1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    stop = true;
    await load;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kek_id: await kekIdOf(KEK_2), under_other_keks: 0 });
    expect(run.stdout + run.stderr).not.toContain("GREPME");
    expect(statuses.length).toBeGreaterThan(3);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect([...seenKeys]).toEqual([`Bearer ${rotKey}`]);
    const { rows } = await storage.db.query("SELECT DISTINCT kek_id FROM provider_credentials");
    expect(rows).toEqual([{ kek_id: await kekIdOf(KEK_2) }]);
    // The old key gone: a fresh router with the new key alone reads the re-sealed credential (from the rewritten record).
    const after = await startRouter(bindings({ PROVIDER_KEYS_KEK: KEK_2 }));
    routers.push(after);
    await ask(key.key, after);
    expect(bearerSeen()).toBe(`Bearer ${rotKey}`);
  }, 60_000);
});

describe("the tenant's credential", () => {
  it("appears in no log, audit row, Redis key or value, metric or error body", async () => {
    for (const each of routers) await each.scheduled();
    const secrets = [TENANT_KEY, OTHER_TENANT_KEY];
    const audit = JSON.stringify((await storage.db.query("SELECT * FROM audit_log")).rows);
    const logs = routers.flatMap((each) => each.logs).join("\n");
    const metrics = await (await router.fetch("/metrics", { headers: admin() })).text();
    expect(metrics.length).toBeGreaterThan(100);
    const redisText: string[] = [];
    for (const name of await storage.redis.keys(`${storage.prefix}:*`)) {
      redisText.push(name);
      const type = String(await storage.redis.sendCommand(["TYPE", name]));
      const command = {
        string: ["GET"],
        hash: ["HGETALL"],
        list: ["LRANGE", "0", "-1"],
        set: ["SMEMBERS"],
        zset: ["ZRANGE", "0", "-1"],
        stream: ["XRANGE", "-", "+"],
      }[type];
      if (command !== undefined) redisText.push(JSON.stringify(await storage.redis.sendCommand([command[0]!, name, ...command.slice(1)])));
    }
    expect(redisText.join("\n")).toContain("ciphertext");
    for (const [where, text] of Object.entries({ audit, logs, metrics, redis: redisText.join("\n"), errors: errorBodies.join("\n") })) {
      expect(text.length, where).toBeGreaterThan(0);
      expect(text, where).not.toContain("GREPME");
      for (const secret of secrets) expect(text, where).not.toContain(secret.slice(-16));
    }
  });

  it("is gone with its tenant", async () => {
    expect((await adminCall(`/v1/admin/tenants/${TENANT}`, "DELETE")).status).toBe(200);
    expect((await storage.db.query("SELECT * FROM provider_credentials WHERE tenant_id = $1", [TENANT])).rows).toEqual([]);
  });
});
