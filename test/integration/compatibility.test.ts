/**
 * The rule that makes a rollback safe: each migration works with the release before
 * it, since a rollback puts old code on the new schema (migrations are never undone).
 * The worker as it was just before the newest migration was added is built from git
 * and served against a database migrated to today's schema; its answers and audit
 * records must come out whole.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { isClean, verifyAudit } from "../../src/audit/verify.ts";
import { chat, fakeProviders, type Router, startRouter, uniquePrompt } from "../support/router.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const git = (...args: string[]): string => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
let storage: TestStorage;
let fake: FakeUpstream;
let router: Router;
let dir: string;
let previous: string;

beforeAll(async () => {
  // The commit that added the newest migration; the release before it is its parent.
  const newest = git("log", "-1", "--format=%H", "--diff-filter=A", "--", "migrations/");
  previous = git("rev-parse", `${newest}^`);
  // Inside the checkout (git-ignored), as dist/ is: from a bare temporary directory workerd failed to start it ("internal error").
  mkdirSync(`${root}.wrangler`, { recursive: true });
  dir = mkdtempSync(`${root}.wrangler/previous-release-`);
  execFileSync("sh", ["-c", `git archive ${previous} | tar -x -C ${dir}`], { cwd: root });
  symlinkSync(`${root}node_modules`, `${dir}/node_modules`);
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", "dist"], {
    cwd: dir,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  storage = await startTestStorage();
  fake = await startFakeUpstream();
  router = await startRouter({ ...storage.bindings, ...fakeProviders(fake.url) }, { scriptPath: `${dir}/dist/index.js` });
}, 120_000);
afterAll(async () => {
  await router?.close();
  await fake?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the previous release on today's schema", () => {
  it("answers, streams, and stores every audit record, verified", async () => {
    const newestMigration = git("ls-tree", "--name-only", "HEAD", "migrations/").split("\n").sort().at(-1)!;
    expect(git("ls-tree", "--name-only", previous, "migrations/").split("\n")).not.toContain(newestMigration);

    const ids: string[] = [];
    for (const stream of [false, true, false]) {
      const response = await router.post("/v1/chat/completions", chat(uniquePrompt("old worker"), { stream }));
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(stream ? "data: [DONE]" : '"choices"');
      ids.push(response.headers.get("x-request-id")!);
    }
    let rows: Record<string, unknown>[] = [];
    for (let tries = 0; tries < 50 && rows.length < ids.length; tries++) {
      await router.scheduled();
      rows = (await auditRows(storage.db)).filter((row) => ids.includes(row.request_id as string));
    }
    expect(rows).toHaveLength(3);
    const report = await verifyAudit(async (text, params) => (await storage.db.query(text, [...params])).rows, storage.bindings.AUDIT_HMAC_KEY!);
    expect(isClean(report)).toBe(true);
    expect(report.checked).toBe(3);
  });
});
