/**
 * Backup and restore on the real PostgreSQL: an audit log filled through the router,
 * backed up, the database dropped and restored, and everything that matters matching;
 * a corrupted backup and a non-empty target refused.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { SYSTEM_POSTGRES, startTestStorage, type TestStorage } from "../support/storage.ts";

const N = 15;
let storage: TestStorage;
let dir: string;
const spare = `tg_restore_${process.pid}`;
const spareUrl = () => storage.bindings.DATABASE_URL!.replace(/\/[^/?]+(\?|$)/, `/${spare}$1`);

beforeAll(async () => {
  storage = await startTestStorage();
  dir = mkdtempSync(`${tmpdir()}/tiergate-backup-`);
  const stack = await startWithFakeProvider(storage.bindings);
  try {
    for (let i = 0; i < N; i++) await (await stack.router.post("/v1/chat/completions", chat(uniquePrompt("backup")))).arrayBuffer();
    for (let tries = 0; tries < 50 && (await snapshot(storage.db)).rows < N; tries++) await stack.router.scheduled();
  } finally {
    await stack.close();
  }
});
afterAll(async () => {
  await admin(`DROP DATABASE IF EXISTS ${spare} WITH (FORCE)`);
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: SYSTEM_POSTGRES });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

let made: { file: string; code: number } | undefined;
/** The suite's one backup of the filled log, made by whichever test needs it first. */
async function backupOnce(): Promise<{ file: string; code: number }> {
  if (made === undefined) {
    const { code } = await runScript(storage, "backup", ["--out", dir, "--keep", "3"]);
    made = { code, file: `${dir}/${readdirSync(dir).find((f) => f.endsWith(".dump"))}` };
  }
  return made;
}

/** What must survive a backup: the rows, their numbers, and their HMACs. */
async function snapshot(db: pg.Client) {
  const { rows } = await db.query("SELECT count(*)::int AS rows, max(seq)::int AS last, string_agg(hmac, ',' ORDER BY seq) AS hmacs FROM audit_log");
  const report = await verifyAudit(async (text, params) => (await db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!);
  return { rows: rows[0].rows as number, last: rows[0].last as number, hmacs: rows[0].hmacs as string, clean: isClean(report) };
}

describe("backup and restore", () => {
  it("restores a dropped database whole: the same rows, sequence numbers and HMACs, verified", async () => {
    const before = await snapshot(storage.db);
    expect(before).toMatchObject({ rows: N, last: N, clean: true });

    const { code, file } = await backupOnce();
    expect(code).toBe(0);
    const dumps = readdirSync(dir).filter((f) => f.endsWith(".dump"));
    expect(dumps).toHaveLength(1);
    expect(readFileSync(`${file}.sha256`, "utf8")).toMatch(new RegExp(`^[0-9a-f]{64}  ${dumps[0]}\\n$`));

    // The database goes: every connection to it is cut, and it is made again empty.
    const name = new URL(storage.bindings.DATABASE_URL!).pathname.slice(1);
    await storage.db.end();
    await admin(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${name}`);

    const restore = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!]);
    expect(restore.stdout).toContain("checksum ok");
    expect(restore.stdout).toContain("restored audit log verified");
    expect(restore.code).toBe(0);
    storage.db = new pg.Client({ connectionString: storage.bindings.DATABASE_URL });
    storage.db.on("error", () => {}); // the suite's end drops the database under it
    await storage.db.connect();
    expect(await snapshot(storage.db)).toEqual(before);
  });

  it("refuses a corrupted backup, and a target that is not empty unless told", async () => {
    const { file } = await backupOnce();
    const corrupt = `${dir}/corrupt.dump`;
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(corrupt, bytes);
    writeFileSync(`${corrupt}.sha256`, readFileSync(`${file}.sha256`));
    await admin(`CREATE DATABASE ${spare}`);

    const refused = await runScript(storage, "restore", [corrupt, spareUrl()]);
    expect(refused.code).toBe(1);
    const spareDb = new pg.Client({ connectionString: spareUrl() });
    await spareDb.connect();
    try {
      expect((await spareDb.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0].n).toBe(0);
      const occupied = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!]);
      expect(occupied.code).toBe(1);
      const forced = await runScript(storage, "restore", [file, storage.bindings.DATABASE_URL!, "--force"]);
      expect(forced.code).toBe(0);
    } finally {
      await spareDb.end();
    }
  });

  it("keeps only the newest backups, and plans a Neon branch without calling Neon in a dry run", async () => {
    const rotating = `${dir}/rotating`;
    for (let i = 0; i < 3; i++) {
      expect((await runScript(storage, "backup", ["--out", rotating, "--keep", "2"])).code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // names carry the second
    }
    expect(readdirSync(rotating).filter((file) => /^tiergate-.*\.dump$/.test(file))).toHaveLength(2);
    const branch = await runScript(storage, "backup", ["--neon-branch", "--dry-run"]);
    expect(branch.code).toBe(0);
    expect(branch.stdout).toMatch(/POST https:\/\/console\.neon\.tech\/api\/v2\/projects\/.+\/branches \{"branch":\{"name":"backup-\d{8}T\d{6}Z"\}\}/);
  });
});
