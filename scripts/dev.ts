/**
 * `npm run dev`: starts the local stack (Redis behind Upstash REST, Postgres behind
 * Neon's endpoints, migrated), then the worker with wrangler on 127.0.0.1:$PORT
 * (8787), and fires the every-minute cron (the audit flush) as production would.
 * With no provider configured in .dev.vars (or with `--fake-upstream`) it also starts
 * the fake provider and points OpenRouter, Groq and every native provider (Anthropic, Azure OpenAI, Bedrock, Gemini, Vertex AI) at it, so completions work with no
 * account at all (scripts/local/dev-provider.ts). Its ports move with PORT, the
 * stack's TG_*_PORT, TG_INSPECTOR_PORT (wrangler's inspector, 9229) and
 * TG_FAKE_PROVIDER_PORT (the fake, any free port by default), so two stacks can run side by side.
 * Ctrl-C stops everything it started.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseConfig } from "../src/config/env.ts";
import { EVERY_MINUTE } from "../src/scheduled/index.ts";
import { createKey, hashKey, keyForHash } from "../src/security/key-store.ts";
import type { Sql } from "../src/storage/postgres.ts";
import { devVars, openPool } from "./db.ts";
import { fakeProviderReason } from "./local/dev-provider.ts";
import { fakeNativeProviders } from "./local/fake-native.ts";
import { startFakeUpstream } from "./local/fake-upstream.ts";
import { DATA_DIR, portSetting, startLocalStack, stopLocalStack } from "./local/stack-cli.ts";

const port = process.env.PORT ?? "8787";
const stack = await startLocalStack((line) => console.log(`[stack] ${line}`));
const vars: Record<string, string> = { ...stack.bindings, ...devSecrets() };
const devKey = await ensureDevKey(stack.bindings);
console.log(`[stack] local client key: export TG_KEY=${devKey}   (send it as Authorization: Bearer $TG_KEY)`);

const fakeReason = fakeProviderReason(process.argv, devVars());
const fake = fakeReason === undefined ? undefined : await startFakeUpstream({ tokenIntervalMs: 30, port: portSetting("TG_FAKE_PROVIDER_PORT", 0) });
if (fake !== undefined) {
  for (const provider of ["OPENROUTER", "GROQ"]) {
    vars[`${provider}_BASE_URL`] = fake.url;
    vars[`${provider}_API_KEY`] = "fake-local-key";
  }
  Object.assign(vars, fakeNativeProviders(fake, ["anthropic", "azure", "bedrock", "gemini", "vertex"]));
  console.log(
    `[stack] fake provider at ${fake.url}, ${fakeReason} (OpenRouter, Groq, Anthropic, Azure OpenAI, Bedrock, Gemini and Vertex point at it; set a provider key in .dev.vars for real answers)`,
  );
}

for (const problem of configProblems(vars)) console.log(`[config] ${problem}`);

const inspector = String(portSetting("TG_INSPECTOR_PORT", 9229));
const args = ["dev", "--ip", "127.0.0.1", "--port", port, "--inspector-port", inspector, "--test-scheduled", "--show-interactive-dev-session=false"];
for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
const wrangler = spawn("wrangler", args, {
  stdio: "inherit",
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});

const cron = setInterval(() => {
  fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(EVERY_MINUTE)}`).catch(() => {});
}, 60_000);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(cron);
  wrangler.kill("SIGTERM");
  await fake?.close();
  await stopLocalStack(stack);
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
wrangler.on("exit", (code) => void stop(code ?? 0));

/**
 * A client key for local use, made once and kept in .data/dev-secrets.json (made again
 * if the database no longer has it), so the first request can be made at once.
 */
async function ensureDevKey(bindings: Record<string, string>): Promise<string> {
  const file = `${DATA_DIR}/dev-secrets.json`;
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {};
  const pool = openPool(bindings.DATABASE_URL!, bindings.NEON_WS_PROXY);
  const sql: Sql = async (text, params = []) => (await pool.query(text, [...params])).rows;
  try {
    const known = kept.DEV_API_KEY === undefined ? undefined : await keyForHash(sql, await hashKey(kept.DEV_API_KEY));
    if (known === undefined || known.revoked_at !== null) {
      kept.DEV_API_KEY = (await createKey(sql, { name: "local dev (npm run dev)", tenant: "local" })).key;
      writeFileSync(file, JSON.stringify(kept, null, 2));
    }
    return kept.DEV_API_KEY!;
  } finally {
    await pool.end();
  }
}

/** What the worker will make of its settings: .dev.vars and the stack's, parsed as the worker parses them. */
function configProblems(stackVars: Record<string, string>): string[] {
  try {
    return [...parseConfig({ ...devVars(), ...stackVars }).problems];
  } catch (error) {
    return [`the router will refuse every request until this is fixed: ${(error as Error).message}`];
  }
}

/**
 * AUDIT_HMAC_KEY and ADMIN_API_KEY for local use: from .dev.vars when it sets them,
 * else made once and kept in .data (git-ignored) so the local audit log stays verifiable.
 */
function devSecrets(): Record<string, string> {
  const devVars = existsSync(".dev.vars") ? readFileSync(".dev.vars", "utf8") : "";
  const file = `${DATA_DIR}/dev-secrets.json`;
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {};
  const secrets: Record<string, string> = {};
  for (const name of ["AUDIT_HMAC_KEY", "ADMIN_API_KEY"]) {
    if (new RegExp(`^${name}=.+`, "m").test(devVars)) continue;
    secrets[name] = kept[name] ??= randomBytes(24).toString("hex");
  }
  writeFileSync(file, JSON.stringify(kept, null, 2));
  if (secrets.ADMIN_API_KEY) console.log(`[stack] local ADMIN_API_KEY (for GET /v1/audit): ${secrets.ADMIN_API_KEY}`);
  return secrets;
}
