/**
 * The loop from a deployment's own traffic, on the real local stack: requests are
 * served and audited with their feature vectors, a client rates them through
 * POST /v1/feedback, `npm run train:router -- --from-audit` trains a model from the
 * ratings, and a worker given that model (MODEL_JSON) routes such requests as the
 * ratings asked.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, fakeProviders, type Router, startRouter, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
let key: string;
const dir = mkdtempSync(`${tmpdir()}/tiergate-loop-`);
const RATED = 24;

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider(storage.bindings);
  const made = await app.router.post("/v1/admin/keys", { name: "loop" }, { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` });
  key = ((await made.json()) as { key: string }).key;
});
afterAll(async () => {
  await app.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The kind of request the ratings are about: short factual questions, which the shipped model sends to a cheap tier. */
const question = () => uniquePrompt("Who wrote the novel Middlemarch");
const tierOf = async (router: Router, prompt: string): Promise<number> => {
  const response = await router.post("/v1/route", chat(prompt), { authorization: `Bearer ${key}` });
  expect(response.status).toBe(200);
  return ((await response.json()) as { tier: number }).tier;
};

describe("learning from a deployment's ratings", () => {
  it("trains on rated traffic, and a worker given the new model routes such requests higher", async () => {
    const before = await tierOf(app.router, question());
    expect(before).toBeLessThan(3);
    const ids: string[] = [];
    for (let i = 0; i < RATED; i++) {
      const response = await app.router.post("/v1/chat/completions", chat(question()), { authorization: `Bearer ${key}` });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      ids.push(response.headers.get("x-request-id")!);
    }
    // The flush cron lands the audit rows; the client says each answer needed a stronger tier.
    const deadline = Date.now() + 10_000;
    for (;;) {
      await app.router.scheduled();
      const { rows } = await storage.db.query("SELECT count(*)::int AS n FROM audit_log WHERE request_id = ANY($1)", [ids]);
      if (rows[0].n === RATED) break;
      if (Date.now() > deadline) throw new Error("the audit rows did not land");
    }
    for (const id of ids) {
      const rated = await app.router.post("/v1/feedback", { request_id: id, rating: "bad", better_tier: "stronger" }, { authorization: `Bearer ${key}` });
      expect(rated.status).toBe(201);
    }

    const out = `${dir}/router-model.json`;
    const trained = await runScript(storage, "train:router", ["--from-audit", "--out", out], {}, 120_000);
    expect(trained.stderr).toBe("");
    expect(trained.code).toBe(0);
    expect(trained.stdout).toContain(`${RATED} rated requests`);
    expect(trained.stdout).toMatch(/held out 6: routed as their ratings asked by the current model 0%, by the new one (\d+)%/);
    // Tried on the traffic no one rated before it is written: every served request with a vector and no rating.
    const { rows: unrated } = await storage.db.query(
      "SELECT count(*)::int AS n FROM audit_log a WHERE a.features IS NOT NULL AND a.tier IS NOT NULL AND a.http_status < 400 AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = a.request_id)",
    );
    expect(unrated[0].n).toBeGreaterThan(0);
    expect(trained.stdout).toMatch(new RegExp(`the latest ${unrated[0].n} unrated requests: \\d+% would change tier, \\d+% by two tiers or more`));
    const model = readFileSync(out, "utf8");
    expect(JSON.parse(model).provenance).toContain("--from-audit");

    const learned = await startRouter({ ...storage.bindings, ...fakeProviders(app.fake.url), MODEL_JSON: model });
    try {
      const prompt = question();
      expect(await tierOf(learned, prompt)).toBeGreaterThan(await tierOf(app.router, prompt));
      // The audit row names the model that decided.
      const routed = await learned.post("/v1/route", chat(question()), { authorization: `Bearer ${key}` });
      const id = routed.headers.get("x-request-id")!;
      const deadlineRow = Date.now() + 5_000;
      for (;;) {
        await learned.scheduled();
        const { rows } = await storage.db.query("SELECT router_model FROM audit_log WHERE request_id = $1", [id]);
        if (rows[0] !== undefined) {
          expect(rows[0].router_model).toMatch(/^custom:[0-9a-f]{8}$/);
          break;
        }
        if (Date.now() > deadlineRow) throw new Error("no audit row for the new model's decision");
      }
    } finally {
      await learned.close();
    }
  });

  it("writes nothing when there are too few ratings to learn from", async () => {
    const empty = await startTestStorage();
    try {
      const trained = await runScript(empty, "train:router", ["--from-audit", "--out", `${dir}/none.json`], {}, 120_000);
      expect(trained.code).toBe(1);
      expect(trained.stderr).toContain("too few to train on");
    } finally {
      await empty.close();
    }
  });
});
