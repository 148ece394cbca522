/**
 * `npm run stack`: starts the local stack and keeps it up until Ctrl-C, printing
 * what a worker or a script needs. `npm run stack -- down` stops whatever a run
 * that crashed left behind. Ports move with TG_REDIS_PORT, TG_PGLITE_PORT,
 * TG_UPSTASH_PORT and TG_NEON_PORT; REDIS_URL and DATABASE_URL use servers of yours.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Stack, startStack } from "./stack.ts";

export const DATA_DIR = fileURLToPath(new URL("../../.data", import.meta.url));
const STATE = `${DATA_DIR}/stack.json`;

/** A port from the environment variable `name`, else `fallback` (0: any free port). */
export const portSetting = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/** Starts the stack with this machine's settings and records its processes; the caller stops it. */
export async function startLocalStack(log: (line: string) => void): Promise<Stack> {
  stopLeftovers();
  mkdirSync(DATA_DIR, { recursive: true });
  const stack = await startStack({
    redisUrl: process.env.REDIS_URL || undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: DATA_DIR,
    ports: {
      redis: portSetting("TG_REDIS_PORT", 6390),
      pglite: portSetting("TG_PGLITE_PORT", 5490),
      upstash: portSetting("TG_UPSTASH_PORT", 8079),
      neon: portSetting("TG_NEON_PORT", 8078),
    },
    log,
  });
  // The bindings let operator scripts (migrate, audit:verify, backup) find this stack with no environment variables.
  const tools = stack.pgliteDumpUrl === undefined ? {} : { PGLITE_DUMP_URL: stack.pgliteDumpUrl };
  writeFileSync(STATE, JSON.stringify({ owner: process.pid, pids: stack.pids(), bindings: stack.bindings, tools }));
  return stack;
}

export async function stopLocalStack(stack: Stack): Promise<void> {
  await stack.stop();
  rmSync(STATE, { force: true });
}

/** Kills the servers a previous run started if that run is gone. */
export function stopLeftovers(): void {
  if (!existsSync(STATE)) return;
  const { owner, pids } = JSON.parse(readFileSync(STATE, "utf8")) as { owner: number; pids: number[] };
  if (alive(owner) && owner !== process.pid) throw new Error(`the local stack is already running (pid ${owner}); stop it first`);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
  rmSync(STATE, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes("down")) {
    stopLeftovers();
    console.log("local stack stopped");
  } else {
    const stack = await startLocalStack((line) => console.log(line));
    console.log("\nready; for scripts (npm run migrate, audit:verify):");
    console.log(`export DATABASE_URL='${stack.bindings.DATABASE_URL}' NEON_WS_PROXY='${stack.bindings.NEON_WS_PROXY}'`);
    const stop = (): void => void stopLocalStack(stack).then(() => process.exit(0));
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  }
}
