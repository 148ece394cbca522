/**
 * Sessions and affinity through the worker (issue 35, item 8): a tool-result continuation
 * stays on its session's model whatever its score, a harder user turn moves up, a fresh
 * isolate finds the session in Redis, SESSION_AFFINITY=off routes each turn alone, two
 * tenants never share a session, the audit row keeps the session and the affinity, and a
 * too-long x-session-id is a 400 in the surface's own format. Real Redis and Postgres; the
 * fake provider.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasValidHmac, recordFromRow } from "../../src/audit/record.ts";
import { hmacSigner } from "../../src/crypto/digest.ts";
import { fakeProviders, type Router, startRouter, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
let fresh: Router;
let off: Router;
const keys: Record<"acme" | "globex", string> = { acme: "", globex: "" };
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });

const HARD =
  "Prove that there are infinitely many primes of the form 4k+3, step by step, with a rigorous derivation, and then design a distributed consensus algorithm tolerant to byzantine faults with formal proof of safety and liveness.";
const toolCall = { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "run", arguments: "{}" } }] };
const tools = [{ type: "function", function: { name: "run", parameters: { type: "object", properties: {} } } }];

/** A Claude-Code-like tool loop: the user's ask, the model's tool call, and the tool's (unique) result. */
const continuation = (ask: string) => ({
  model: "auto",
  tools,
  messages: [{ role: "user", content: ask }, toolCall, { role: "tool", tool_call_id: "c1", content: uniquePrompt("exit 0") }],
});

async function send(router: Router, body: unknown, tenant: keyof typeof keys, session: string) {
  const response = await router.post("/v1/chat/completions", body, { authorization: `Bearer ${keys[tenant]}`, "x-session-id": session });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  const header = (name: string) => response.headers.get(`x-tiergate-${name}`);
  return {
    model: header("model"),
    tier: Number(header("tier")),
    session: header("session"),
    affinity: header("affinity"),
    reason: header("reason") ?? "",
    requestId: response.headers.get("x-request-id")!,
  };
}

/** Waits until the after-response batch has written the session to Redis. */
async function inRedis(digest: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const text = await storage.redis.get(`${storage.prefix}:session:${digest}`);
    if (text !== null) return JSON.parse(text) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`session ${digest} never reached Redis`);
}

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider(storage.bindings);
  // A second isolate on the same Redis, and one with affinity off.
  fresh = await startRouter({ ...fakeProviders(app.fake.url), ...storage.bindings });
  off = await startRouter({ ...fakeProviders(app.fake.url), ...storage.bindings, SESSION_AFFINITY: "off" });
  for (const tenant of ["acme", "globex"] as const) {
    expect((await app.router.fetch("/v1/admin/tenants", { method: "POST", headers: admin(), body: JSON.stringify({ id: tenant }) })).status).toBe(201);
    const made = await app.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "sessions", tenant }) });
    keys[tenant] = ((await made.json()) as { key: string }).key;
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([fresh?.close(), off?.close()]);
  await app?.close();
  await storage?.close();
});

describe("a session's turns", () => {
  it("keeps a tool-result continuation on the session's model though its score picks another tier, in this isolate and a fresh one", async () => {
    const first = await send(app.router, { model: "tier:5", messages: [{ role: "user", content: "run the tests" }], tools }, "acme", "agent-kept");
    expect(first).toMatchObject({ tier: 5, affinity: "new" });
    expect(first.session).toMatch(/^[0-9a-f]{32}$/);
    expect(first.session).not.toContain("agent");
    // Alone (affinity off), the continuation's score sends it elsewhere.
    const alone = await send(off, continuation("run the tests"), "acme", "agent-kept");
    expect(alone.tier).toBeLessThan(5);
    expect(alone.affinity).toBeNull();
    expect(alone.session).toBe(first.session);

    const kept = await send(app.router, continuation("run the tests"), "acme", "agent-kept");
    expect(kept).toMatchObject({ model: first.model, tier: 5, affinity: "kept", session: first.session });
    expect(kept.reason).toMatch(/tool-result continuation stays on the session's model/);

    const remembered = await inRedis(first.session!);
    expect(remembered).toMatchObject({ model: first.model, tier: 5 });
    expect(Number(remembered.cacheUntil)).toBeGreaterThan(Date.now());
    // A fresh isolate knows nothing of the session but what Redis remembers.
    const elsewhere = await send(fresh, continuation("run the tests"), "acme", "agent-kept");
    expect(elsewhere).toMatchObject({ model: first.model, tier: 5, affinity: "kept", session: first.session });
  });

  it("remembers the model a user turn moved to: the next tool-result continuation stays there", async () => {
    // A prompt of its own: an answer from the response cache warms no provider's cache, and is not remembered.
    const ask = uniquePrompt("run the tests");
    const first = await send(app.router, { model: "tier:5", messages: [{ role: "user", content: ask }], tools }, "acme", "agent-moved");
    expect(first).toMatchObject({ tier: 5, affinity: "new" });
    const easier = [
      { role: "user", content: ask },
      { role: "assistant", content: "They pass." },
      { role: "user", content: uniquePrompt("thanks, now list the files") },
    ];
    const moved = await send(app.router, { model: "auto", tools, messages: easier }, "acme", "agent-moved");
    expect(moved.affinity).toBe("moved");
    expect(moved.model).not.toBe(first.model);
    const loop = [...easier, toolCall, { role: "tool", tool_call_id: "c1", content: uniquePrompt("a.ts b.ts") }];
    const next = await send(app.router, { model: "auto", tools, messages: loop }, "acme", "agent-moved");
    expect(next).toMatchObject({ model: moved.model, affinity: "kept" });
  });

  it("finds a session by its conversation's start when the client names none", async () => {
    const start = [
      { role: "system", content: uniquePrompt("You are a coding agent.") },
      { role: "user", content: "run the tests" },
    ];
    const headers = { authorization: `Bearer ${keys.acme}` };
    const first = await app.router.post("/v1/chat/completions", { model: "tier:5", tools, messages: start }, headers);
    await first.arrayBuffer();
    expect(first.headers.get("x-tiergate-affinity")).toBe("new");
    const loop = [...start, toolCall, { role: "tool", tool_call_id: "c1", content: uniquePrompt("exit 0") }];
    const next = await app.router.post("/v1/chat/completions", { model: "auto", tools, messages: loop }, headers);
    await next.arrayBuffer();
    expect(next.headers.get("x-tiergate-session")).toBe(first.headers.get("x-tiergate-session"));
    expect(next.headers.get("x-tiergate-affinity")).toBe("kept");
    expect(next.headers.get("x-tiergate-model")).toBe(first.headers.get("x-tiergate-model"));
    // A fresh isolate finds it too, through Redis.
    await inRedis(first.headers.get("x-tiergate-session")!);
    const elsewhere = await fresh.post(
      "/v1/chat/completions",
      { model: "auto", tools, messages: loop.slice(0, -1).concat({ role: "tool", tool_call_id: "c1", content: uniquePrompt("exit 0") }) },
      headers,
    );
    await elsewhere.arrayBuffer();
    expect(elsewhere.headers.get("x-tiergate-affinity")).toBe("kept");
  });

  it("moves a harder user turn up", async () => {
    const easy = await send(app.router, { model: "auto", messages: [{ role: "user", content: uniquePrompt("hi there") }] }, "acme", "agent-up");
    expect(easy.affinity).toBe("new");
    expect(easy.tier).toBeLessThan(5);
    const history = [
      { role: "user", content: "hi there" },
      { role: "assistant", content: "Hello!" },
      { role: "user", content: HARD },
    ];
    const hard = await send(app.router, { model: "auto", messages: history }, "acme", "agent-up");
    expect(hard).toMatchObject({ tier: 5, affinity: "moved", session: easy.session });
    expect(hard.reason).toMatch(new RegExp(`harder user turn: tier 5 is above the session's tier ${easy.tier}`));
  });

  it("gives a second tenant with the same x-session-id a session of its own", async () => {
    const acme = await send(app.router, { model: "tier:5", messages: [{ role: "user", content: "build it" }], tools }, "acme", "shared-id");
    const globex = await send(app.router, continuation("build it"), "globex", "shared-id");
    expect(globex.session).not.toBe(acme.session);
    expect(globex.affinity).toBe("new");
    expect(globex.tier).toBeLessThan(5);
  });

  it("pins a budgeted key's turn in a fresh isolate to the session's dearer model, reserving enough for it", async () => {
    const made = await app.router.fetch("/v1/admin/keys", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name: "budgeted", daily_budget_usd: 5 }),
    });
    const { key, id } = (await made.json()) as { key: string; id: string };
    const ask = (router: Router, body: unknown) =>
      router.post("/v1/chat/completions", body, { authorization: `Bearer ${key}`, "x-session-id": "agent-budget" });
    const first = await ask(app.router, { model: "tier:5", messages: [{ role: "user", content: "run the suite" }], tools });
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    await inRedis(first.headers.get("x-tiergate-session")!);
    // The fresh isolate decides tier 1 first and reserves for it; Redis's answer pins the turn to tier 5, which costs more.
    const pinned = await ask(fresh, continuation("run the suite"));
    expect(pinned.status).toBe(200);
    await pinned.arrayBuffer();
    expect(pinned.headers.get("x-tiergate-affinity")).toBe("kept");
    expect(pinned.headers.get("x-tiergate-model")).toBe(first.headers.get("x-tiergate-model"));
    const requestId = pinned.headers.get("x-request-id")!;
    const deadline = Date.now() + 8_000;
    let row: { cost_usd: string | null; usage_adjusted: unknown } | undefined;
    while (Date.now() < deadline && row === undefined) {
      await fresh.scheduled();
      row = (await storage.db.query("SELECT cost_usd, usage_adjusted FROM audit_log WHERE request_id = $1", [requestId])).rows[0];
      if (row === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Charged the listed price of what the provider reported: never cut to a reservation made for tier 1.
    expect(Number(row?.cost_usd)).toBeGreaterThan(0);
    expect(row?.usage_adjusted ?? null).toBeNull();
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const spendDeadline = Date.now() + 8_000;
    let counted = -1;
    let audited = -2;
    while (Date.now() < spendDeadline && counted !== audited) {
      await fresh.scheduled();
      counted = Number((await storage.redis.get(`${storage.prefix}:spend:key:${id}:d:${day}`)) ?? 0);
      const rows = (await storage.db.query("SELECT cost_usd FROM audit_log WHERE key_id = $1", [id])).rows;
      audited = rows.length === 2 ? rows.reduce((sum, r) => sum + Math.round(Number(r.cost_usd ?? 0) * 1e6), 0) : -2;
      if (counted !== audited) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(counted).toBe(audited);
  });

  it("keeps the session's digest and the affinity in the audit row", async () => {
    const first = await send(app.router, { model: "tier:4", messages: [{ role: "user", content: "audit me" }], tools }, "acme", "agent-audit");
    const next = await send(app.router, continuation("audit me"), "acme", "agent-audit");
    const deadline = Date.now() + 8_000;
    let rows: { request_id: string; session: string | null; affinity: string | null }[] = [];
    while (Date.now() < deadline && rows.length < 2) {
      await app.router.scheduled();
      rows = (
        await storage.db.query("SELECT request_id, session, affinity FROM audit_log WHERE request_id = ANY($1) ORDER BY ts", [
          [first.requestId, next.requestId],
        ])
      ).rows;
      if (rows.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(rows.map((row) => [row.request_id, row.session, row.affinity])).toEqual([
      [first.requestId, first.session, "new"],
      [next.requestId, first.session, "kept"],
    ]);
    // The signature covers the new fields, and a row read back still verifies.
    const stored = await storage.db.query("SELECT * FROM audit_log WHERE request_id = ANY($1)", [[first.requestId, next.requestId]]);
    for (const row of stored.rows) {
      const { record, hmac } = recordFromRow(row);
      expect(record.session).toBe(first.session);
      expect(await hasValidHmac(record, hmac, hmacSigner(storage.bindings.AUDIT_HMAC_KEY!))).toBe(true);
    }
  });
});

describe("a Claude Code session on /v1/messages", () => {
  it("is found in metadata.user_id, and its tool loop stays on one model", async () => {
    const userId = JSON.stringify({ device_id: "0".repeat(64), account_uuid: "", session_id: "6f1c2b8e-0000-4000-8000-00000000c0de" });
    const headers = { authorization: `Bearer ${keys.acme}` };
    const ask = (model: string, messages: unknown[]) =>
      app.router.post(
        "/v1/messages",
        { model, max_tokens: 200, metadata: { user_id: userId }, tools: [{ name: "Bash", input_schema: { type: "object" } }], messages },
        headers,
      );
    const first = await ask("tier:5", [{ role: "user", content: "run the tests" }]);
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const loop = [
      { role: "user", content: "run the tests" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "npm test" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: uniquePrompt("ok"), cache_control: { type: "ephemeral" } }] },
    ];
    const next = await ask("auto", loop);
    expect(next.status).toBe(200);
    await next.arrayBuffer();
    expect(next.headers.get("x-tiergate-session")).toBe(first.headers.get("x-tiergate-session"));
    expect(next.headers.get("x-tiergate-affinity")).toBe("kept");
    expect(next.headers.get("x-tiergate-model")).toBe(first.headers.get("x-tiergate-model"));
    // The same loop in another Claude Code session is routed on its own.
    const other = JSON.stringify({ device_id: "0".repeat(64), account_uuid: "", session_id: "6f1c2b8e-0000-4000-8000-00000000beef" });
    const alone = await app.router.post(
      "/v1/messages",
      { model: "auto", max_tokens: 200, metadata: { user_id: other }, messages: loop, tools: [{ name: "Bash", input_schema: { type: "object" } }] },
      headers,
    );
    await alone.arrayBuffer();
    expect(alone.headers.get("x-tiergate-affinity")).toBe("new");
    expect(Number(alone.headers.get("x-tiergate-tier"))).toBeLessThan(5);
  });
});

describe("the session header", () => {
  const tooLong = "s".repeat(257);

  it("over 256 characters is a 400 naming it, in OpenAI's format on Chat Completions", async () => {
    const response = await app.router.post("/v1/chat/completions", continuation("x"), { authorization: `Bearer ${keys.acme}`, "x-session-id": tooLong });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe("x-session-id");
    expect(body.error.message).toMatch(/x-session-id/);
  });

  it("over 256 characters is a 400 naming it, in Anthropic's format on Messages", async () => {
    const response = await app.router.post(
      "/v1/messages",
      { model: "auto", max_tokens: 100, messages: [{ role: "user", content: "hi" }] },
      { authorization: `Bearer ${keys.acme}`, "x-session-id": tooLong },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(/x-session-id/);
  });

  it("/v1/route shows the session and what the turn would do to it", async () => {
    const first = await send(app.router, { model: "tier:5", messages: [{ role: "user", content: "route me" }], tools }, "acme", "agent-route");
    await inRedis(first.session!);
    const response = await fresh.post("/v1/route", continuation("route me"), { authorization: `Bearer ${keys.acme}`, "x-session-id": "agent-route" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { session: string; affinity: string; model: string };
    expect(body).toMatchObject({ session: first.session, affinity: "kept", model: first.model });
    expect(response.headers.get("x-tiergate-affinity")).toBe("kept");
  });
});
