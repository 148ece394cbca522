/**
 * Captures what Claude Code really sends, as fixtures for the scorer's tests
 * (test/fixtures/claude-code/): the real CLI (`@anthropic-ai/claude-code`) against the
 * router and the fake provider, with non-essential traffic off, in a scratch folder, on
 * prompts of our own (no text of a real user). Each request's body is recorded on its way
 * in; the scaffold every turn repeats (system prompt, tools, settings) is written once,
 * and each turn's messages beside it. Machine-specific values (the scratch folders, the
 * device and session ids) are replaced by fixed ones.
 *
 *   npm run build && npm run capture:claude-code
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFakeUpstream } from "../local/fake-upstream.ts";
import { startRouter } from "../local/worker.ts";

const OUT = resolve("test/fixtures/claude-code");
const CLAUDE = resolve("node_modules/.bin/claude");
const PROJECT = "/work/project";

/** A session to run, and which of its requests (1-based) to keep, under what name. */
type Scenario = { prompt: string; allowed?: string; keep: Record<string, number> };
const SCENARIOS: Scenario[] = [
  { prompt: "say hi", keep: { greeting: 1 } },
  { prompt: `use the Read tool with {"file_path": "${PROJECT}/src/cart.ts"}`, allowed: "Read", keep: { "read-file": 1, "read-file-result": 2 } },
  { prompt: 'use the Bash tool with {"command": "ls src", "description": "List the sources"}', allowed: "Bash", keep: { "command-result": 2 } },
  { prompt: "Refactor the module src/cart.ts into smaller, well-named functions and write its unit tests with vitest", keep: { refactor: 1 } },
];
const CART = `export function total(items: { price: number; qty: number }[]): number {
  let sum = 0;
  for (const item of items) sum += item.price * item.qty;
  return sum;
}
`;

type Seen = { path: string; body: Record<string, unknown> };

const fake = await startFakeUpstream();
const router = await startRouter({
  OPENROUTER_BASE_URL: fake.url,
  OPENROUTER_API_KEY: "capture-key-0123456789",
  GROQ_BASE_URL: fake.url,
  GROQ_API_KEY: "capture-key-0123456789",
});
let seen: Seen[] = [];
const recorder = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (body.length > 0) seen.push({ path: req.url ?? "", body: JSON.parse(body.toString()) });
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name))) as Record<
    string,
    string
  >;
  const answer = await fetch(`${router.url}${req.url}`, { method: req.method, headers, body: body.length > 0 ? body : undefined });
  res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
  res.end(Buffer.from(await answer.arrayBuffer()));
});
await new Promise<void>((done) => recorder.listen(0, "127.0.0.1", done));
const address = recorder.address();
const base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;

const scratch = await mkdtemp(join(tmpdir(), "tiergate-capture-"));
const version = JSON.parse(await readFile("node_modules/@anthropic-ai/claude-code/package.json", "utf8")).version as string;
const turns: Record<string, unknown> = {};
let scaffold: Record<string, unknown> | undefined;
try {
  for (const scenario of SCENARIOS) {
    const home = await mkdtemp(join(scratch, "home-"));
    const cwd = await mkdtemp(join(scratch, "project-"));
    await mkdir(join(cwd, "src"));
    await writeFile(join(cwd, "src/cart.ts"), CART);
    seen = [];
    await claude(scenario, home, cwd);
    for (const [name, index] of Object.entries(scenario.keep)) {
      const request = seen[index - 1];
      if (request === undefined) throw new Error(`'${scenario.prompt}' made ${seen.length} requests; ${name} is request ${index}`);
      const text = JSON.stringify(request.body).replaceAll(home, "/home/user").replaceAll(cwd.replaceAll("/", "-"), PROJECT.replaceAll("/", "-"));
      const body = JSON.parse(text.replaceAll(cwd, PROJECT)) as Record<string, unknown>;
      body.metadata = { user_id: JSON.stringify({ device_id: "0".repeat(64), account_uuid: "", session_id: "00000000-0000-0000-0000-000000000000" }) };
      const { messages, ...rest } = body;
      scaffold ??= rest;
      turns[name] = { path: request.path, messages };
    }
  }
  await mkdir(OUT, { recursive: true });
  await writeFile(join(OUT, "scaffold.json"), `${JSON.stringify({ claude_code: version, ...scaffold }, null, 1)}\n`);
  await writeFile(join(OUT, "turns.json"), `${JSON.stringify(turns, null, 1)}\n`);
  console.log(`Claude Code ${version}: ${Object.keys(turns).join(", ")} → ${OUT}`);
} finally {
  recorder.close();
  await router.close();
  await fake.close();
  await rm(scratch, { recursive: true, force: true });
}

async function claude(scenario: Scenario, home: string, cwd: string): Promise<void> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    ANTHROPIC_BASE_URL: base,
    ANTHROPIC_AUTH_TOKEN: "capture",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  };
  const prompt = scenario.prompt.replaceAll(PROJECT, cwd);
  const args = ["-p", prompt, ...(scenario.allowed === undefined ? [] : ["--allowedTools", scenario.allowed])];
  const child = spawn(CLAUDE, args, { env, cwd, stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 });
  const code = await new Promise<number>((done) => child.on("close", (exit) => done(exit ?? 1)));
  if (code !== 0) throw new Error(`claude ${args.join(" ")} exited ${code}`);
}
