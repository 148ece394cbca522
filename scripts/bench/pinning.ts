/**
 * Cores for the comparative runs: the target under test alone on core 0, everything
 * else (this process with the Upstash and Neon stand-ins, the load generator, the fake
 * provider, Redis and Postgres) on core 1. `taskset` sets the affinity; what was
 * changed on servers this bench did not start is put back at the end.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpus } from "node:os";

export const TARGET_CORE = "0";
export const OTHERS_CORE = "1";

export type Pinning = { pinned: boolean; target: string; others: string; servers: string[]; why?: string; restore(): void };

const taskset = (args: string[]): void => void execFileSync("taskset", args, { stdio: "ignore" });

/** Pins this process (and so every child that is not a target) and the local Redis and Postgres to the other core. */
export function pinForBench(): Pinning {
  if (cpus().length < 2 || spawnSync("sh", ["-c", "command -v taskset"]).status !== 0) {
    return { pinned: false, target: "any", others: "any", servers: [], why: "needs taskset and two cores", restore: () => {} };
  }
  const all = `0-${cpus().length - 1}`;
  taskset(["-a", "-p", "-c", OTHERS_CORE, String(process.pid)]);
  const servers = ["redis-server", "postgres"].flatMap((name) => {
    const found = spawnSync("pgrep", ["-x", name], { encoding: "utf8" }).stdout.trim();
    return found === "" ? [] : found.split("\n").map((pid) => ({ name, pid }));
  });
  for (const server of servers) spawnSync("taskset", ["-a", "-p", "-c", OTHERS_CORE, server.pid], { stdio: "ignore" });
  return {
    pinned: true,
    target: TARGET_CORE,
    others: OTHERS_CORE,
    servers: [...new Set(servers.map((server) => server.name))],
    restore: () => {
      for (const server of servers) spawnSync("taskset", ["-a", "-p", "-c", all, server.pid], { stdio: "ignore" });
    },
  };
}

/** The command that runs `command` on the target's core, when pinning is on. */
export function onTargetCore(pinning: Pinning | undefined, command: string[]): string[] {
  return pinning?.pinned ? ["taskset", "-c", TARGET_CORE, ...command] : command;
}
