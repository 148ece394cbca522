/**
 * Claude Code itself (its native binary, offline) through the router to Anthropic natively,
 * with thinking on: the registry serves every tier with Claude models of provider
 * `anthropic`, pointed at the fake's Anthropic half. Claude Code's Messages requests go
 * through as it sent them: its thinking setting, its breakpoints, and on the turn after a
 * tool ran, the thinking block the fake wrote, signature and all, handed back to the provider.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signatureOf } from "../../scripts/local/fake-anthropic.ts";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { flushedRows, makeKey, runCli } from "../support/clients.ts";
import { fakeProviders, type Router, startRouter } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const CLAUDE = resolve("node_modules/.bin/claude");
const capabilities = ["tools", "json", "vision", "streaming"];
/** Every tier Claude at Anthropic, priced from the catalog: whatever the router picks, it is called natively. */
const MODELS = [
  { id: "native-haiku-1", upstream_model: "claude-haiku-4-5", tier: 1 },
  { id: "native-haiku-2", upstream_model: "claude-haiku-4-5", tier: 2 },
  { id: "native-haiku-3", upstream_model: "claude-haiku-4-5", tier: 3 },
  { id: "native-sonnet", upstream_model: "claude-sonnet-5", tier: 4 },
  { id: "native-opus", upstream_model: "claude-opus-5-5", tier: 5 },
].map((model) => ({ ...model, provider: "anthropic", context_window: 200_000, capabilities }));

let storage: TestStorage;
let fake: FakeUpstream;
let router: Router;
let key: string;
let keyId: string;
let scratch: string;

beforeAll(async () => {
  storage = await startTestStorage({ private: true });
  fake = await startFakeUpstream();
  router = await startRouter({
    ...storage.bindings,
    ...fakeProviders(fake.url),
    ANTHROPIC_BASE_URL: new URL(fake.url).origin,
    ANTHROPIC_API_KEY: "sk-ant-e2e-0123456789",
    MODELS_JSON: JSON.stringify(MODELS),
    REQUIRE_API_KEY: "true",
  });
  fake.behaviour.requiredKey = "sk-ant-e2e-0123456789";
  ({ key, id: keyId } = await makeKey(router, storage, { name: "claude code native", daily_budget_usd: 5 }));
  scratch = await mkdtemp(join(tmpdir(), "tiergate-claude-native-"));
}, 60_000);
afterAll(async () => {
  await router?.close();
  await fake?.close();
  await storage?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function claude(args: string[]): ReturnType<typeof runCli> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: scratch,
    ANTHROPIC_BASE_URL: router.url,
    ANTHROPIC_AUTH_TOKEN: key,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    // Thinking on. Claude Code 2.1 sends `thinking: {type: "adaptive", display: "omitted"}` on its turns with this set
    // (and by default); the fake then answers a thinking block with no text and a signature, which the next turn hands back.
    MAX_THINKING_TOKENS: "4096",
  };
  return runCli(CLAUDE, args, { env, cwd: scratch });
}

type Sent = {
  thinking?: { type: string };
  system?: { cache_control?: unknown }[];
  messages: { role: string; content: string | { type: string; signature?: string; thinking?: string; cache_control?: unknown }[] }[];
};

describe("Claude Code through tiergate to Anthropic natively, thinking on", () => {
  it("runs the shell command the fake asks for; the next turn hands back the fake's thinking with its signature", { timeout: 150_000 }, async () => {
    const ask = 'use the Bash tool with {"command": "echo native > made-natively.txt", "description": "Write a file"}';
    const run = await claude(["-p", ask, "--allowedTools", "Bash"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("Fake token1");
    expect((await readFile(join(scratch, "made-natively.txt"), "utf8")).trim()).toBe("native");

    const calls = fake.seen.filter((call) => call.path === "/v1/messages");
    expect(calls.length).toBeGreaterThanOrEqual(2);
    // Every call reached the provider in Anthropic's format, with Claude Code's own headers passed on.
    for (const call of calls) {
      expect(call.headers["x-api-key"]).toBe("sk-ant-e2e-0123456789");
      expect(call.headers["anthropic-version"]).toBe("2023-06-01");
    }
    const bodies = calls.map((call) => call.body as unknown as Sent);
    const thinkingTurns = bodies.filter((body) => body.thinking !== undefined && body.thinking.type !== "disabled");
    expect(thinkingTurns.length).toBeGreaterThan(0);
    expect(calls.some((call) => String(call.headers["anthropic-beta"] ?? "") !== "")).toBe(true);
    // Claude Code's breakpoints, where it put them: on its system prompt and its messages.
    expect(bodies.some((body) => JSON.stringify(body.system ?? []).includes("cache_control"))).toBe(true);
    expect(bodies.some((body) => JSON.stringify(body.messages).includes("cache_control"))).toBe(true);
    // The turn after the tool ran: its result as a tool_result block, and the fake's thinking, signature and all, back as sent.
    const after = bodies.find((body) => JSON.stringify(body.messages).includes('"tool_result"'))!;
    expect(after).toBeDefined();
    const handedBack = after.messages
      .filter((message) => message.role === "assistant" && Array.isArray(message.content))
      .flatMap((message) => message.content as { type: string; thinking?: string; signature?: string }[])
      .filter((block) => block.type === "thinking");
    expect(handedBack.length).toBeGreaterThan(0);
    for (const block of handedBack) expect(block.signature).toBe(signatureOf(block.thinking ?? ""));
  });

  it("left an audit row per request, each priced at Anthropic's prices", { timeout: 60_000 }, async () => {
    const calls = fake.seen.filter((call) => call.path === "/v1/messages").length;
    const rows = (await flushedRows(router, storage, keyId, calls)).filter((row) => row.model !== null);
    expect(rows.length).toBeGreaterThanOrEqual(calls);
    for (const row of rows) {
      expect(row.provider).toBe("anthropic");
      expect(row.surface).toBe("messages");
      expect(Number(row.cost_usd)).toBeGreaterThan(0);
    }
  });
});
