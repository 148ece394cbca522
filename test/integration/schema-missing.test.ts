/**
 * A database without the router's schema (not migrated, or a search_path changed
 * under it: issue 23) is an outage, not a bad statement: routes answer 503
 * `database_schema_missing` instead of 500, and the audit flush keeps its records
 * queued instead of quarantining them, until the schema is back. Real Postgres
 * through Neon's driver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` });

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "false" });
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

/** Runs `body` with `table` renamed away, and puts it back. */
async function without(table: string, body: () => Promise<void>): Promise<void> {
  await storage.db.query(`ALTER TABLE ${table} RENAME TO ${table}_away`);
  try {
    await body();
  } finally {
    await storage.db.query(`ALTER TABLE ${table}_away RENAME TO ${table}`);
  }
}

describe("a missing relation", () => {
  it("answers 503 database_schema_missing on the routes that read it", async () => {
    await without("audit_runs", async () => {
      const response = await app.router.fetch("/v1/audit/runs", { headers: admin() });
      expect(response.status).toBe(503);
      const { error } = await response.json();
      expect(error.code).toBe("database_schema_missing");
      expect(error.message).not.toMatch(/audit_runs|postgres:\/\//);
    });
    expect((await app.router.fetch("/v1/audit/runs", { headers: admin() })).status).toBe(200);
  });

  it("keeps audit records queued, not quarantined, until the table is back", async () => {
    const queue = `${storage.prefix}:audit:queue`;
    let id = "";
    await without("audit_log", async () => {
      const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("kept")));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      id = response.headers.get("x-request-id")!;
      await new Promise((resolve) => setTimeout(resolve, 300));
      await app.router.scheduled();
      expect(Number(await storage.redis.lLen(queue))).toBeGreaterThan(0);
    });
    const quarantined = await storage.db.query("SELECT count(*)::int AS n FROM audit_quarantine");
    expect(quarantined.rows[0].n).toBe(0);
    for (let i = 0; i < 20; i++) {
      await app.router.scheduled();
      const { rows } = await storage.db.query("SELECT 1 FROM audit_log WHERE request_id = $1", [id]);
      if (rows.length === 1) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the record of ${id} never reached audit_log`);
  });
});
