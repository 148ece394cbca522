/**
 * A virtual environment with the Python clients of test/e2e/python/requirements.txt,
 * made on first use under node_modules/.cache and remade when the requirements change.
 * pip installs from whatever index the machine is set to use (here a local mirror of
 * PyPI); `--retries 0` keeps an unreachable default index from costing minutes.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const REQUIREMENTS = resolve("test/e2e/python/requirements.txt");
const VENV = resolve("node_modules/.cache/tiergate-python");
const PYTHON = join(VENV, "bin", "python");

/** The venv's python, with the requirements installed; made by one test file while any other waits (test files run in parallel). */
export async function pythonWithClients(): Promise<string> {
  const wanted = createHash("sha256")
    .update(await readFile(REQUIREMENTS))
    .digest("hex");
  const stamp = join(VENV, "requirements.sha256");
  const made = async (): Promise<boolean> => existsSync(stamp) && (await readFile(stamp, "utf8")) === wanted;
  if (await made()) return PYTHON;
  await withLock(async () => {
    if (await made()) return;
    await rm(VENV, { recursive: true, force: true });
    await run("python3", ["-m", "venv", VENV]);
    await run(PYTHON, ["-m", "pip", "install", "--quiet", "--retries", "0", "--disable-pip-version-check", "-r", REQUIREMENTS], { timeout: 300_000 });
    await writeFile(stamp, wanted);
  });
  return PYTHON;
}

/** `mkdir` is atomic: the one that makes the lock folder holds it. A lock older than the install's timeout is a dead run's. */
async function withLock(work: () => Promise<void>): Promise<void> {
  const lock = `${VENV}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > 360_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Runs `script` with `args` in the venv and parses the JSON it prints. */
export async function runPython<T>(script: string, args: string[], env: Record<string, string>): Promise<T> {
  const python = await pythonWithClients();
  const { stdout } = await run(python, [resolve(script), ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000 });
  return JSON.parse(stdout) as T;
}
