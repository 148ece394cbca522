/** Runs an operator script (`npm run <name>`) against a test's storage, as an operator would with its environment set. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestStorage } from "./storage.ts";

export type ScriptRun = { code: number; stdout: string; stderr: string };

export async function runScript(
  storage: TestStorage,
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<ScriptRun> {
  const { bindings } = storage;
  const environment = {
    ...process.env,
    DATABASE_URL: bindings.DATABASE_URL,
    NEON_WS_PROXY: bindings.NEON_WS_PROXY,
    AUDIT_HMAC_KEY: bindings.AUDIT_HMAC_KEY,
    UPSTASH_REDIS_REST_URL: bindings.UPSTASH_REDIS_REST_URL,
    UPSTASH_REDIS_REST_TOKEN: bindings.UPSTASH_REDIS_REST_TOKEN,
    KEY_PREFIX: storage.prefix,
    ...env,
  };
  return promisify(execFile)("npm", ["run", "--silent", name, "--", ...args], { env: environment, timeout: timeoutMs }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}
