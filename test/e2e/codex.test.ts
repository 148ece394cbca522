/**
 * Codex CLI itself (`@openai/codex`, its native binary) through the router, as a user
 * points it at a gateway: a custom model provider in a scratch CODEX_HOME with
 * `wire_api = "responses"`, the router's URL and a client key in an environment
 * variable. `codex exec` answers a question; then a turn in which the fake asks for one
 * shell command, Codex runs it in a scratch folder, and the fake finishes; a turn that
 * calls Codex's own create_goal tool, whose follow-up carries an `agent`-namespace output
 * with no call_id (a 400 before issue 36). Every request
 * Codex made has its audit row, and the log verifies.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushedRows, makeKey, runCli } from "../support/clients.ts";
import { startWithFakeProvider } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const CODEX = resolve("node_modules/.bin/codex");
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let key: string;
let keyId: string;
let home: string;
let folder: string;

beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  // docs/responses.md: a model name Codex knows, routed as auto.
  stack = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true", MODEL_ALIASES: JSON.stringify({ "gpt-5*": "auto" }) });
  ({ key, id: keyId } = await makeKey(stack.router, storage, { name: "codex", daily_budget_usd: 5 }));
  // Codex refuses to make its helper links under the system's temporary folder, and says so; it still runs.
  home = await mkdtemp(join(tmpdir(), "tiergate-codex-"));
  folder = join(home, "project");
  await mkdir(join(home, ".codex"), { recursive: true });
  await mkdir(folder);
  // docs/responses.md's configuration, as a user writes it.
  const config = [
    'model = "auto"',
    'model_provider = "tiergate"',
    "",
    "[model_providers.tiergate]",
    'name = "tiergate"',
    `base_url = "${stack.router.url}/v1"`,
    'env_key = "TIERGATE_API_KEY"',
    'wire_api = "responses"',
  ];
  await writeFile(join(home, ".codex", "config.toml"), `${config.join("\n")}\n`);
}, 60_000);
afterAll(async () => {
  await stack.close();
  await storage.close();
  await rm(home, { recursive: true, force: true });
});

async function codex(args: string[]): ReturnType<typeof runCli> {
  const env = { PATH: process.env.PATH ?? "", HOME: home, CODEX_HOME: join(home, ".codex"), TIERGATE_API_KEY: key };
  return runCli(CODEX, ["exec", "--skip-git-repo-check", ...args], { env, cwd: folder });
}

describe("Codex CLI through tiergate", () => {
  it("answers a question with codex exec", { timeout: 120_000 }, async () => {
    const run = await codex(["say hi"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
  });

  it("runs the one shell command the fake asks for, then finishes with the fake's text", { timeout: 120_000 }, async () => {
    const before = stack.fake.seen.length;
    // Codex's own sandbox needs kernel features a container may lack; the scratch folder is the boundary here.
    const run = await codex(["--dangerously-bypass-approvals-and-sandbox", 'use the exec_command tool with {"cmd": "echo routed > made-by-codex.txt"}']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
    expect((await readFile(join(folder, "made-by-codex.txt"), "utf8")).trim()).toBe("routed");
    // The turn after the command ran carried its output back as a tool message.
    const calls = stack.fake.seen.slice(before);
    expect(calls.some((call) => (call.body as { messages: { role: string }[] }).messages.some((m) => m.role === "tool"))).toBe(true);
  });

  it("with a model name Codex knows, through the alias map: no metadata warning, and its free-form apply_patch applies", { timeout: 120_000 }, async () => {
    const patch = "*** Begin Patch\n*** Add File: patched.txt\n+patched by codex\n*** End Patch\n";
    const before = stack.fake.seen.length;
    const run = await codex([
      "--model",
      "gpt-5.5",
      "--dangerously-bypass-approvals-and-sandbox",
      `use the apply_patch tool with ${JSON.stringify({ input: patch })}`,
    ]);
    expect(run.stderr).not.toContain("Model metadata");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
    expect((await readFile(join(folder, "patched.txt"), "utf8")).trim()).toBe("patched by codex");
    // For a model it knows, Codex offers apply_patch as a custom tool: sent on as a function of one string.
    const first = stack.fake.seen[before]!.body as { tools: { function: { name: string } }[] };
    expect(first.tools.map((tool) => tool.function.name)).toContain("apply_patch");
  });

  it("calls its create_goal tool, and the turn after it (an agent-namespace output with no call_id) is served", { timeout: 120_000 }, async () => {
    const before = stack.fake.seen.length;
    const run = await codex(["--dangerously-bypass-approvals-and-sandbox", 'use the create_goal tool with {"objective": "write a haiku"}']);
    expect(run.stderr).not.toContain("call_id' is required");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Fake token1");
    type Sent = { messages: { role: string; tool_calls?: { function: { name: string } }[] }[]; tools: { function: { name: string } }[] };
    const calls = stack.fake.seen.slice(before).map((call) => call.body as Sent);
    expect(calls[0]!.tools.map((tool) => tool.function.name)).toContain("create_goal");
    // The request after the goal was set carried create_goal's call and its output back.
    const after = calls.find((call) => call.messages.some((m) => m.tool_calls?.some((c) => c.function.name === "create_goal")));
    expect(after?.messages.at(-1)?.role).toBe("tool");
  });

  it("left one audit row per request, each naming the responses surface, and the log verifies", { timeout: 60_000 }, async () => {
    const rows = await flushedRows(stack.router, storage, keyId, stack.fake.seen.length);
    const generations = rows.filter((row) => row.model !== null);
    expect(generations.length).toBeGreaterThanOrEqual(stack.fake.seen.length);
    for (const row of rows) expect(row.surface).toBe("responses");
    for (const row of generations) {
      expect(row.tier).not.toBeNull();
      expect(Number(row.cost_usd)).toBeGreaterThan(0);
      expect(row.constitutional_hash).toBe("cdd01ef066bc6cf2");
      // Codex sends store: false: nothing of its session is kept.
      expect(row.stored_response).toBeNull();
    }
    const verified = await runScript(storage, "audit:verify");
    expect(verified.stdout).not.toMatch(/BAD HMAC|GAP|NO CONSTITUTIONAL HASH/);
    expect(verified.code).toBe(0);
  });
});
