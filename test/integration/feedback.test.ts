/**
 * What routing learns from: every audit row keeps the decision's feature vector and the
 * model that scored it (signed, like the rest of the row), and POST /v1/feedback stores
 * one rating per request and key, counted only from the key that made it, against real
 * Redis and Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ratedRequests } from "../../scripts/train/from-audit.ts";
import { prunePendingFeedback } from "../../src/audit/ratings.ts";
import { recordFromRow } from "../../src/audit/record.ts";
import { verifyAudit } from "../../src/audit/verify.ts";
import { FEATURES } from "../../src/routing/features.ts";
import { chat, type Router, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
let router: Router;
const keys: Record<"a" | "b", string> = { a: "", b: "" };
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` });
const as = (who: "a" | "b") => ({ authorization: `Bearer ${keys[who]}` });

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider(storage.bindings);
  router = app.router;
  for (const who of ["a", "b"] as const) {
    const made = await router.post("/v1/admin/keys", { name: `feedback ${who}` }, admin());
    expect(made.status).toBe(201);
    keys[who] = ((await made.json()) as { key: string }).key;
  }
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

/** Sends a completion as `who`; its request id. */
async function ask(who: "a" | "b", prompt = uniquePrompt("rate me")): Promise<string> {
  const response = await router.post("/v1/chat/completions", chat(prompt), as(who));
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return response.headers.get("x-request-id")!;
}

/** Runs the flush cron until the request's audit row is in Postgres; the row. */
async function auditRow(requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await router.scheduled();
    const { rows } = await storage.db.query("SELECT * FROM audit_log WHERE request_id = $1", [requestId]);
    if (rows[0] !== undefined) return rows[0];
    if (Date.now() > deadline) throw new Error(`no audit row for ${requestId}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rate = (body: Record<string, unknown>, who: "a" | "b" | "admin" = "a") => router.post("/v1/feedback", body, who === "admin" ? admin() : as(who));

describe("the audit row keeps what the decision saw", () => {
  it("records the feature vector (numbers only) and the routing model, and still verifies", async () => {
    const code = "Write a Python function that merges two sorted lists, with tests, and explain its complexity.";
    const row = await auditRow(await ask("a", `${code} ${uniquePrompt()}`));
    const features = row.features as number[];
    expect(features).toHaveLength(FEATURES.length);
    for (const value of features) expect(typeof value).toBe("number");
    expect(features[FEATURES.findIndex((f) => f.name === "code")]).toBeGreaterThan(0);
    expect(row.router_model).toMatch(/^builtin:[0-9a-f]{8}$/);
    const { record } = recordFromRow(row);
    expect(record.features).toEqual(features);
    const report = await verifyAudit(async (text, params) => (await storage.db.query(text, params as unknown[])).rows, storage.bindings.AUDIT_HMAC_KEY!);
    expect(report.badHmac).toEqual([]);
    expect(report.missingHash).toEqual([]);
  });

  it("leaves them out for a request refused before any decision", async () => {
    const refused = await router.post("/v1/chat/completions", chat("x", { temperature: 9 }), as("a"));
    expect(refused.status).toBe(400);
    const row = await auditRow(refused.headers.get("x-request-id")!);
    expect(row.features).toBeNull();
    expect(row.router_model).toBeNull();
  });
});

describe("POST /v1/feedback", () => {
  it("stores one rating per request, joined to its audit row, and answers a repeat as before", async () => {
    const id = await ask("a");
    await auditRow(id);
    const first = await rate({ request_id: id, rating: "bad", better_tier: "stronger" });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({
      object: "feedback",
      request_id: id,
      rating: "bad",
      score: null,
      better_tier: "stronger",
      status: "counted",
    });
    const again = await rate({ request_id: id, rating: "bad", better_tier: "stronger" });
    expect(again.status).toBe(200);
    const changed = await rate({ request_id: id, rating: "good" });
    expect(changed.status).toBe(409);
    expect((await changed.json()).error).toMatchObject({ code: "feedback_exists", param: "request_id" });
    const { rows } = await storage.db.query(
      "SELECT f.rating, f.better_tier, f.key_id = a.key_id AS same_key FROM feedback f JOIN audit_log a USING (request_id) WHERE request_id = $1",
      [id],
    );
    expect(rows).toEqual([{ rating: "bad", better_tier: "stronger", same_key: true }]);
  });

  it("takes a score alone, and holds a rating as pending until the log has the request's row", async () => {
    const id = await ask("a");
    const scored = await rate({ request_id: id, score: 0.8125 });
    expect(scored.status).toBe(201);
    expect(await scored.json()).toMatchObject({ score: 0.8125, rating: null, status: "pending" });
    await auditRow(id);
    const again = await rate({ request_id: id, score: 0.8125 });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "counted" });
  });

  it("lets no key claim another key's rating before the flush, nor learn that a request exists", async () => {
    const id = await ask("a");
    const claimed = await rate({ request_id: id, rating: "good" }, "b");
    expect(claimed.status).toBe(201);
    const owner = await rate({ request_id: id, rating: "bad" });
    expect(owner.status).toBe(201);
    await auditRow(id);
    // After the flush, B's answer for A's request is the answer for an id that never existed.
    const seen = { ...(await (await rate({ request_id: id, rating: "good" }, "b")).json()), request_id: "x", created_at: "x" };
    const stranger = crypto.randomUUID();
    const invented = await rate({ request_id: stranger, rating: "good" }, "b");
    expect(invented.status).toBe(201);
    expect(seen).toEqual({ ...(await invented.json()), request_id: "x", created_at: "x" });
    expect(seen.status).toBe("pending");
    expect(await (await rate({ request_id: id, rating: "bad" })).json()).toMatchObject({ status: "counted" });
    const query = async (text: string) => (await storage.db.query(text)).rows;
    const { rated } = await ratedRequests(query);
    const counted = await storage.db.query(
      "SELECT f.rating FROM feedback f JOIN audit_log a ON a.request_id = f.request_id AND a.key_id = f.key_id WHERE f.request_id = $1",
      [id],
    );
    expect(counted.rows).toEqual([{ rating: "bad" }]);
    expect(rated.filter((request) => request.wanted === "stronger").length).toBeGreaterThan(0);
  });

  it("deletes the pending ratings that no audit row has counted after a day, and keeps the counted ones", async () => {
    const id = await ask("a");
    await rate({ request_id: id, rating: "good" });
    await rate({ request_id: id, rating: "good" }, "b");
    const stranger = crypto.randomUUID();
    await rate({ request_id: stranger, rating: "bad" }, "b");
    await auditRow(id);
    await storage.db.query("UPDATE feedback SET created_at = now() - interval '2 days' WHERE request_id = ANY($1::uuid[])", [[id, stranger]]);
    const sql = async (text: string, params?: readonly unknown[]) => (await storage.db.query(text, params as unknown[])).rows;
    expect(await prunePendingFeedback(sql)).toBeGreaterThanOrEqual(2);
    const { rows } = await storage.db.query("SELECT request_id, key_id FROM feedback WHERE request_id = ANY($1::uuid[])", [[id, stranger]]);
    expect(rows).toHaveLength(1);
    expect(rows[0].request_id).toBe(id);
  });

  it("refuses a body without a rating or a score, a bad id, and an unknown field, in OpenAI's error format", async () => {
    const id = await ask("a");
    const cases: [Record<string, unknown>, string][] = [
      [{ request_id: id }, "rating"],
      [{ request_id: "not-a-uuid", rating: "good" }, "request_id"],
      [{ request_id: id, rating: "meh" }, "rating"],
      [{ request_id: id, score: 1.5 }, "score"],
      [{ request_id: id, rating: "good", comment: "the prompt was …" }, ""],
    ];
    for (const [body, param] of cases) {
      const response = await rate(body);
      expect(response.status).toBe(400);
      const { error } = await response.json();
      expect(error.type).toBe("invalid_request_error");
      if (param !== "") expect(error.param).toBe(param);
    }
  });

  it("needs a key once keys exist", async () => {
    const response = await router.post("/v1/feedback", { request_id: crypto.randomUUID(), rating: "good" });
    expect(response.status).toBe(401);
  });
});
