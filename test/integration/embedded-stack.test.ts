/**
 * The embedded stack of `npm run dev` (PGlite, Postgres 18, one shared backend)
 * survives its own tools (issue 23): `npm run backup` dumps it with PGlite's own
 * pg_dump, `npm run restore` brings a wiped database back whole, one client's
 * settings never reach another's session, and a missing relation is a 503 with a code;
 * and its clients' queries under a backup (issue 36): each parameterised query runs
 * whole, through the drivers the worker and the scripts use, while the dump only makes
 * them wait.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPool } from "../../scripts/db.ts";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { createSql } from "../../src/storage/postgres.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { SYSTEM_POSTGRES, startTestStorage, type TestStorage } from "../support/storage.ts";
import { exchangeWithoutSync, query, wireClient } from "../support/wire.ts";

const N = 6;
let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
let key: string;
let dir: string;

const admin = () => ({ authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const ask = async (): Promise<Response> => {
  const response = await app.router.post("/v1/chat/completions", chat(uniquePrompt("embedded")), { authorization: `Bearer ${key}` });
  await response.clone().arrayBuffer();
  return response;
};
const audit = () => app.router.fetch("/v1/audit?limit=5", { headers: admin() });

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: storage.bindings.DATABASE_URL });
  await client.connect();
  return client;
}
const show = async (client: pg.Client, name: string): Promise<string> => (await client.query(`SHOW ${name}`)).rows[0][name];

/** What must survive: the rows, their numbers, their HMACs, a clean verification. */
async function snapshot() {
  const db = await connect();
  try {
    const { rows } = await db.query("SELECT count(*)::int AS rows, max(seq)::int AS last, string_agg(hmac, ',' ORDER BY seq) AS hmacs FROM audit_log");
    const report = await verifyAudit(async (text, params) => (await db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!);
    return { rows: rows[0].rows as number, last: rows[0].last as number, hmacs: rows[0].hmacs as string, clean: isClean(report) };
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  storage = await startTestStorage({ embedded: true });
  app = await startWithFakeProvider(storage.bindings);
  dir = mkdtempSync(`${tmpdir()}/tiergate-embedded-`);
  const made = await app.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "embedded" }) });
  key = ((await made.json()) as { key: string }).key;
  for (let i = 0; i < N; i++) expect((await ask()).status).toBe(200);
  for (let tries = 0; tries < 50 && (await snapshot()).rows < N; tries++) await app.router.scheduled();
}, 120_000);
afterAll(async () => {
  await app.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the embedded Postgres's shared backend", () => {
  it("keeps each client's settings in its own session, and drops them when it leaves", async () => {
    const a = await connect();
    await a.query("SET search_path = ''");
    await a.query("SET statement_timeout = '7s'");
    const b = await connect();
    expect(await show(b, "search_path")).toBe("public");
    expect(await show(b, "statement_timeout")).toBe("0");
    expect((await b.query("SELECT count(*)::int AS n FROM audit_log")).rows[0].n).toBeGreaterThanOrEqual(N);
    // The worker's own sessions (through the Neon endpoint) see their defaults too.
    expect((await ask()).status).toBe(200);
    expect((await audit()).status).toBe(200);
    expect(await show(a, "search_path")).toBe('""');
    expect(await show(a, "statement_timeout")).toBe("7s");
    await b.end();
    await a.end();
    const c = await connect();
    expect(await show(c, "search_path")).toBe("public");
    expect(await show(c, "statement_timeout")).toBe("0");
    await c.end();
  });

  it("undoes what a client left open when it hangs up in the middle of an exchange", async () => {
    const db = await connect();
    await db.query("CREATE TABLE mid_exchange_probe (v int)");
    const leaves = async (before: Buffer[], messages: Buffer[], until: string) => {
      const client = await wireClient(storage.bindings.DATABASE_URL!);
      if (before.length > 0) await client.send(before, "Z");
      await client.send(messages, until);
      client.leave();
      // Another client's next statements run on their own, not in what was left: not committed with them, not ignored till a Sync.
      const { rows } = await db.query("SELECT $1::int AS n, (SELECT count(*)::int FROM mid_exchange_probe) AS inserted", [7]);
      expect(rows).toEqual([{ n: 7, inserted: 0 }]);
      expect((await db.query("SELECT now() = statement_timestamp() AS own")).rows).toEqual([{ own: true }]);
    };
    await leaves([], exchangeWithoutSync("INSERT INTO mid_exchange_probe VALUES (1)"), "C");
    await leaves([], exchangeWithoutSync("SELEC 1"), "E");
    await leaves([query("BEGIN")], exchangeWithoutSync("INSERT INTO mid_exchange_probe VALUES (2)"), "C");
    await leaves([query("BEGIN")], exchangeWithoutSync("SELEC 1"), "E");
    await db.query("DROP TABLE mid_exchange_probe");
    await db.end();
  });
});

describe("the embedded Postgres under traffic while it backs up", () => {
  /**
   * Each client asks with parameter types of its own and checks the answer is its own:
   * on the one shared backend, another client's Parse between this one's Parse and Bind
   * binds these values to that statement (a type error, or someone else's row), and a
   * dump (or a session swap) in between drops the unnamed statement altogether.
   */
  async function traffic(until: Promise<unknown>) {
    const errors: string[] = [];
    let answered = 0;
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const loop = async (ask: (i: number) => Promise<void>) => {
      for (let i = 0; !done; i++)
        await ask(i).then(
          () => void answered++,
          (error: Error) => void errors.push(error.message),
        );
    };
    // The worker's own driver: Neon's HTTP protocol, through the endpoint's pool of backend connections.
    const sql = createSql({ url: storage.bindings.DATABASE_URL!, httpEndpoint: storage.bindings.NEON_HTTP_ENDPOINT!, timeoutMs: 20_000 });
    const overHttp = (client: number) =>
      loop(async (i) => {
        const rows = await sql("SELECT $1::jsonb AS doc, $2::int AS n", [JSON.stringify({ client, i }), i]);
        expect(rows).toEqual([{ doc: { client, i }, n: i }]);
      });
    // The scripts' driver: Neon's Pool over the endpoint's WebSocket relay, one backend connection each.
    const pool = openPool(storage.bindings.DATABASE_URL!, storage.bindings.NEON_WS_PROXY!);
    const overWebSocket = (client: number) =>
      loop(async (i) => {
        const { rows } = await pool.query("SELECT $1::int AS n, $2::text AS label, (SELECT count(*)::int FROM audit_log WHERE seq <= $1) AS below", [
          i % N,
          `ws-${client}-${i}`,
        ]);
        expect(rows).toEqual([{ n: i % N, label: `ws-${client}-${i}`, below: i % N }]);
      });
    // And the router itself, whose requests read keys and write the audit log meanwhile.
    const throughRouter = loop(async () => expect((await ask()).status).toBe(200));
    try {
      await Promise.all([overHttp(1), overHttp(2), overHttp(3), overWebSocket(1), overWebSocket(2), throughRouter, until]);
    } finally {
      await pool.end();
    }
    return { errors, answered };
  }

  it("answers every client's parameterised queries right, and none errors, while two backups run", async () => {
    const backups = (async () => {
      const runs = [];
      for (let i = 0; i < 2; i++)
        runs.push(await runScript(storage, "backup", ["--out", `${dir}/under-traffic`], { PGLITE_DUMP_URL: storage.stack.pgliteDumpUrl! }));
      return runs;
    })();
    const { errors, answered } = await traffic(backups);
    for (const run of await backups) expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(errors).toEqual([]);
    expect(answered).toBeGreaterThan(50);
  }, 60_000);
});

describe("backup and restore of the embedded stack", () => {
  let file = "";
  let atBackup: Awaited<ReturnType<typeof snapshot>>;

  it("backs up with PGlite's own pg_dump and leaves the stack serving", async () => {
    for (let i = 0; i < 5; i++) await app.router.scheduled();
    atBackup = await snapshot();
    expect(atBackup.rows).toBeGreaterThan(N);
    expect(atBackup.clean).toBe(true);
    const run = await runScript(storage, "backup", ["--out", dir], { PGLITE_DUMP_URL: storage.stack.pgliteDumpUrl! });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const dumps = readdirSync(dir).filter((name) => name.endsWith(".sql"));
    expect(dumps).toHaveLength(1);
    file = `${dir}/${dumps[0]}`;
    expect(readFileSync(`${file}.sha256`, "utf8")).toMatch(new RegExp(`^[0-9a-f]{64}  ${dumps[0]}\\n$`));
    expect(readFileSync(file, "utf8")).toContain("CREATE TABLE public.audit_log");
    // What broke before: pg_dump's empty search_path stayed on the shared session.
    expect((await ask()).status).toBe(200);
    expect((await audit()).status).toBe(200);
    const client = await connect();
    expect(await show(client, "search_path")).toBe("public");
    await client.end();
  });

  it("answers 503 database_schema_missing while the schema is gone, and restores it whole", async () => {
    for (let i = 0; i < 5; i++) await app.router.scheduled();
    expect((await snapshot()).rows).toBeGreaterThan(atBackup.rows);
    const wipe = await connect();
    await wipe.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    await wipe.end();

    const gone = await audit();
    expect(gone.status).toBe(503);
    expect((await gone.json()).error.code).toBe("database_schema_missing");

    const restored = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!]);
    expect(restored.stdout).toContain("restored audit log verified");
    expect(restored.code).toBe(0);
    expect(await snapshot()).toEqual(atBackup);
    expect((await audit()).status).toBe(200);
    expect((await ask()).status).toBe(200);
  });

  it("restores into the machine's PostgreSQL 15 too, and the restored log verifies there", async () => {
    const name = `tg_embedded_restore_${process.pid}`;
    const server = new pg.Client({ connectionString: SYSTEM_POSTGRES });
    await server.connect();
    try {
      expect(Number((await server.query("SHOW server_version_num")).rows[0].server_version_num)).toBeLessThan(170_000);
      await server.query(`DROP DATABASE IF EXISTS ${name}`);
      await server.query(`CREATE DATABASE ${name}`);
      const target = new URL(SYSTEM_POSTGRES);
      target.pathname = `/${name}`;
      const restored = await runScript(storage, "restore", [file, target.toString()]);
      expect(restored.stderr).toBe("");
      expect(restored.stdout).toContain("restored audit log verified");
      expect(restored.code).toBe(0);
      // Redis has issued numbers since the backup: only the restored log itself is compared.
      const verified = await runScript(storage, "audit:verify", [], { DATABASE_URL: target.toString(), UPSTASH_REDIS_REST_URL: "" });
      expect(verified.stdout).toContain("audit log verified");
      expect(verified.code).toBe(0);
    } finally {
      await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await server.end();
    }
  });

  it("refuses to restore over tables unless --force, then replaces them", async () => {
    const refused = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds \d+ tables/);
    const forced = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!, "--force"]);
    expect(forced.code).toBe(0);
    expect((await snapshot()).clean).toBe(true);
  });
});
