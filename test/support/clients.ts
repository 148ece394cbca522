/**
 * What the end-to-end tests of real clients share: the stack they run against, a client
 * key made through the admin API, an agent CLI run as a script runs it, the audit rows of
 * a key once flushed, and what a key spent today.
 */
import { spawn } from "node:child_process";
import { beforeAll } from "vitest";
import type { Router } from "./router.ts";
import { type FakeStack, useFakeStack } from "./stack.ts";
import { auditRows, type TestStorage } from "./storage.ts";

/** A `FakeStack` on the fake's OpenAI-compatible providers, with keys required and one client key (`key`, `keyId`). */
export type ClientStack = FakeStack & { key: string; keyId: string };

/** `useFakeStack` for a real client's tests, and a key it uses. */
export function useClientStack(options: { bindings?: Record<string, string>; before?: () => Promise<unknown>; timeoutMs?: number } = {}): ClientStack {
  const env = useFakeStack({ ...options, bindings: { REQUIRE_API_KEY: "true", ...options.bindings } }) as ClientStack;
  beforeAll(async () => {
    const { key, id } = await makeKey(env.router, env.storage, { daily_budget_usd: 5, rpm: 10_000 });
    env.key = key;
    env.keyId = id;
  });
  return env;
}

/** What the key spent today, as `GET /v1/usage` tells the key itself. */
export async function spentToday(router: Router, key: string): Promise<number> {
  const usage = await router.fetch("/v1/usage", { headers: { authorization: `Bearer ${key}` } });
  return ((await usage.json()) as { key: { today: { spent_usd: number } } }).key.today.spent_usd;
}

/** The micro-dollars the served (200) rows were charged, summed. */
export const servedMicros = (rows: Record<string, unknown>[]): number =>
  rows.filter((row) => row.http_status === 200).reduce((sum, row) => sum + Math.round(Number(row.cost_usd) * 1e6), 0);

/** A client key with these fields (name, tenant, limits, budgets), made as an operator makes one. */
export async function makeKey(router: Router, storage: TestStorage, fields: Record<string, unknown>): Promise<{ key: string; id: string }> {
  const made = await router.fetch("/v1/admin/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "e2e", ...fields }),
  });
  return (await made.json()) as { key: string; id: string };
}

/** Runs a CLI with no stdin, as a script runs it (agent CLIs wait for piped input otherwise). */
export async function runCli(
  bin: string,
  args: string[],
  options: { env: Record<string, string>; cwd: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(bin, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 90_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number>((done) => child.on("close", (exit) => done(exit ?? 1)));
  return { code, stdout, stderr };
}

/** The key's audit rows once at least `count` are flushed to Postgres (or what there is after 10 s). */
export async function flushedRows(router: Router, storage: TestStorage, keyId: string, count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 10_000;
  let rows: Record<string, unknown>[] = [];
  while (Date.now() < deadline) {
    await router.scheduled();
    rows = (await auditRows(storage.db)).filter((row) => row.key_id === keyId);
    if (rows.length >= count) break;
  }
  return rows;
}
