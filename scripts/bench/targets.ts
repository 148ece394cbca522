/** What the bench measures, each in its own process: the fake provider, the router (workerd), Portkey's gateway. */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort, waitForPort } from "../local/services.ts";
import { onTargetCore, type Pinning } from "./pinning.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TS = ["--experimental-strip-types", "--no-warnings"];

export type Target = { url: string; pid: number; stop(): Promise<void> };

/** Where targets run: set once by the bench (pinning.ts); unset, anywhere. */
let pinning: Pinning | undefined;
export function pinTargets(chosen: Pinning): void {
  pinning = chosen;
}

/** Spawns a Node script that prints its URL as its first line; a target runs on the target's core. */
async function spawnPrintingUrl(args: string[], target = true): Promise<Target> {
  const [command, ...rest] = target ? onTargetCore(pinning, [process.execPath, ...args]) : [process.execPath, ...args];
  const child = spawn(command!, rest, { cwd: root, env: process.env, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code} before printing its URL`)));
  });
  return { url, pid: child.pid!, stop: () => stopChild(child) };
}

/** The fake provider, e.g. `["--first-token-ms", "300"]`; its URL ends in /v1. */
export function startFakeProvider(flags: string[] = []): Promise<Target> {
  return spawnPrintingUrl([...TS, "scripts/local/fake-upstream-cli.ts", ...flags], false);
}

export function startRouterProcess(bindings: Record<string, string>): Promise<Target> {
  return spawnPrintingUrl([...TS, "scripts/bench/serve-router.ts", JSON.stringify(bindings)]);
}

/** A worker that only forwards to `upstream`, in workerd like the router: the platform's ceiling. */
export function startForwardOnlyWorker(upstream: string): Promise<Target> {
  return spawnPrintingUrl([...TS, "scripts/bench/serve-router.ts", JSON.stringify({ UPSTREAM: upstream }), `${root}scripts/bench/forward-worker.js`]);
}

/** Portkey's open-source gateway (the npm package), headless, on a port of its own. */
export async function startPortkey(): Promise<Target> {
  const port = await freePort();
  const [command, ...args] = onTargetCore(pinning, [
    process.execPath,
    `${root}node_modules/@portkey-ai/gateway/build/start-server.js`,
    `--port=${port}`,
    "--headless",
  ]);
  const child = spawn(command!, args, {
    cwd: root,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: "ignore",
  });
  await waitForPort(port);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** Peak resident memory (VmHWM) of a process and all its descendants, in MiB. */
export function peakRssMib(pid: number): number {
  return Math.round(statusKib(processTree(pid), "VmHWM") / 1024);
}

/** A memory field of /proc/PID/status (`VmRSS`, `VmHWM`), summed over `pids`, in KiB; a process gone meanwhile counts 0. */
export function statusKib(pids: readonly number[], field: "VmRSS" | "VmHWM"): number {
  let kib = 0;
  for (const p of pids) {
    try {
      kib += Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process and all its descendants have used so far, in seconds, from /proc. */
export function cpuSeconds(pid: number): number {
  return cpuSecondsOf(processTree(pid));
}

/** CPU time (user + system) the processes `pids` have used so far, each counted alone, in seconds. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** The process and its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (p: number): void => {
    tree.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}
