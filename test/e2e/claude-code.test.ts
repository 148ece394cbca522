/**
 * Claude Code itself (`@anthropic-ai/claude-code`, its native binary) through the router,
 * as a user points it at a gateway: ANTHROPIC_BASE_URL at the router, ANTHROPIC_AUTH_TOKEN
 * a client key, non-essential traffic off, a scratch HOME and folder. `claude -p` answers
 * a question; then a turn in which the fake asks for one shell command, Claude Code runs
 * it, and the fake finishes. Every request it made has its audit row, and the log verifies.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushedRows, makeKey, runCli } from "../support/clients.ts";
import { startWithFakeProvider } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const CLAUDE = resolve("node_modules/.bin/claude");
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let key: string;
let keyId: string;
let scratch: string;

beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  stack = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true" });
  ({ key, id: keyId } = await makeKey(stack.router, storage, { name: "claude code", daily_budget_usd: 5 }));
  scratch = await mkdtemp(join(tmpdir(), "tiergate-claude-"));
}, 60_000);
afterAll(async () => {
  await stack.close();
  await storage.close();
  await rm(scratch, { recursive: true, force: true });
});

async function claude(args: string[]): ReturnType<typeof runCli> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: scratch,
    ANTHROPIC_BASE_URL: stack.router.url,
    ANTHROPIC_AUTH_TOKEN: key,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  };
  return runCli(CLAUDE, args, { env, cwd: scratch });
}

describe("Claude Code through tiergate", () => {
  it("answers a question with claude -p", { timeout: 120_000 }, async () => {
    const run = await claude(["-p", "say hi"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
  });

  it("runs the one shell command the fake asks for, then finishes with the fake's text", { timeout: 120_000 }, async () => {
    const ask = 'use the Bash tool with {"command": "echo routed > made-by-claude.txt", "description": "Write a file"}';
    const run = await claude(["-p", ask, "--allowedTools", "Bash"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
    expect((await readFile(join(scratch, "made-by-claude.txt"), "utf8")).trim()).toBe("routed");
    // The turn after the tool ran carried its result back as a tool message.
    const results = stack.fake.seen.filter((call) => (call.body as { messages: { role: string }[] }).messages.some((m) => m.role === "tool"));
    expect(results.length).toBeGreaterThan(0);
  });

  it("left one audit row per request, each with its surface, tier and cost, and the log verifies", { timeout: 60_000 }, async () => {
    const rows = await flushedRows(stack.router, storage, keyId, stack.fake.seen.length);
    const generations = rows.filter((row) => row.model !== null);
    // The first request is Claude Code's "say hi": its scaffold (a 7,000-character system prompt, reminders, twelve
    // tools) is not the task, so the greeting is routed as one.
    expect(Number(generations[0]!.tier)).toBeLessThanOrEqual(2);
    // So is every turn after it, the one that carried the command's output back included: tool output is data, not the task.
    for (const row of generations) expect(Number(row.tier)).toBeLessThanOrEqual(2);
    // Each run is one Claude Code session (metadata.user_id names it), and keeps one model through its tool loop.
    const modelsBySession = new Map<string, Set<unknown>>();
    for (const row of generations) {
      expect(row.session).toMatch(/^[0-9a-f]{32}$/);
      modelsBySession.set(String(row.session), (modelsBySession.get(String(row.session)) ?? new Set()).add(row.model));
    }
    expect(modelsBySession.size).toBeGreaterThanOrEqual(2);
    for (const models of modelsBySession.values()) expect(models.size).toBe(1);
    expect(generations.some((row) => row.affinity === "kept")).toBe(true);
    // Every provider call came from a request with its row; each row is the Messages surface's, with a tier and a cost.
    expect(generations.length).toBeGreaterThanOrEqual(stack.fake.seen.length);
    for (const row of rows) expect(row.surface).toBe("messages");
    for (const row of generations) {
      expect(row.tier).not.toBeNull();
      expect(Number(row.cost_usd)).toBeGreaterThan(0);
      expect(row.constitutional_hash).toBe("cdd01ef066bc6cf2");
    }
    const verified = await runScript(storage, "audit:verify");
    expect(verified.stdout).not.toMatch(/BAD HMAC|GAP|NO CONSTITUTIONAL HASH/);
    expect(verified.code).toBe(0);
  });
});
