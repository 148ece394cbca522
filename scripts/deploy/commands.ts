/**
 * The commands a deploy runs, each shown before it runs and stopped on at its first
 * failure; with --dry-run, shown only. Wrangler is `npx wrangler` unless `WRANGLER`
 * names another command (the tests' stand-in, which records calls and fails on cue).
 */
import { spawn } from "node:child_process";
import type { Environment } from "./environment.ts";
import { ROOT } from "./environment.ts";

export class StepFailed extends Error {
  readonly step: string;
  constructor(step: string, message: string) {
    super(`${step}: ${message}`);
    this.step = step;
  }
}

export type Runner = {
  dryRun: boolean;
  log(line: string): void;
  /** Runs `command` (its stderr passed through), returns its stdout; a non-zero exit is a `StepFailed`. */
  run(step: string, command: readonly string[], env?: Record<string, string>): Promise<string>;
};

export function makeRunner(dryRun: boolean, log = (line: string) => console.log(line)): Runner {
  return {
    dryRun,
    log,
    async run(step, command, env = {}) {
      const shown = [...Object.entries(env).map(([name]) => `${name}=…`), ...command].join(" ");
      log(`[${step}] $ ${shown}`);
      if (dryRun) return "";
      return new Promise((resolve, reject) => {
        const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8");
          process.stdout.write(chunk);
        });
        child.once("error", (error) => reject(new StepFailed(step, error.message)));
        child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new StepFailed(step, `\`${shown}\` exited ${code}`))));
      });
    },
  };
}

/** The wrangler command: `WRANGLER` when set (space-separated), else `npx wrangler`. */
export const wrangler = (): string[] => (process.env.WRANGLER ?? "npx wrangler").split(" ").filter((part) => part !== "");

/** Uploads the build as a new version that takes no traffic yet; returns its id. */
export async function uploadVersion(runner: Runner, env: Environment, tag: string): Promise<string> {
  const out = await runner.run("upload", [...wrangler(), "versions", "upload", "--env", env.name, "--tag", tag, "--message", `tiergate ${tag}`]);
  if (runner.dryRun) return "<new-version-id>";
  const id = /Version ID:\s*([0-9a-f][0-9a-f-]{7,})/i.exec(out)?.[1];
  if (id === undefined) throw new StepFailed("upload", "wrangler did not say the new version's id");
  return id;
}

/** The version taking most of the traffic now (the one to go back to). */
export async function currentVersion(runner: Runner, env: Environment): Promise<string> {
  const out = await runner.run("status", [...wrangler(), "deployments", "status", "--env", env.name, "--json"]);
  if (runner.dryRun) return "<current-version-id>";
  try {
    const status = JSON.parse(out) as { versions: { version_id: string; percentage: number }[] };
    return [...status.versions].sort((a, b) => b.percentage - a.percentage)[0]!.version_id;
  } catch {
    throw new StepFailed("status", "wrangler deployments status --json gave no versions");
  }
}

/** Splits traffic: `to` takes `percent`, `from` the rest. */
export function shiftTraffic(runner: Runner, env: Environment, to: string, from: string, percent: number, step = `rollout ${percent}%`): Promise<string> {
  const specs = percent >= 100 ? [`${to}@100%`] : [`${to}@${percent}%`, `${from}@${100 - percent}%`];
  return runner.run(step, [...wrangler(), "versions", "deploy", ...specs, "--env", env.name, "--yes", "--message", `tiergate: ${to} at ${percent}%`]);
}
