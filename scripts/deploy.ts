/**
 * `npm run deploy -- ENV [--dry-run] [--skip-checks] [--step-wait-seconds N] [--url URL]`: in order,
 * stopping at the first failure with a clear message: typecheck, lint and tests; the
 * build, refused above the gzipped bundle budget; pending migrations on the
 * environment's database (DATABASE_URL); `wrangler versions upload`; a smoke test of
 * the new version at 0% through the version-override header; then `wrangler versions
 * deploy` step by step (deploy/environments.json), checking between steps that the 5xx
 * share has not risen, and going back to the previous version automatically if it
 * has, or if anything fails once traffic has moved. --dry-run builds (to report the
 * bundle) and prints every other command and call it would make.
 * Needs ADMIN_API_KEY (the error-rate checks) and SMOKE_API_KEY (a client key, once
 * keys exist) for the environment, and wrangler logged in (or CLOUDFLARE_API_TOKEN).
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { gzippedKib } from "./deploy/bundle-size.ts";
import { errorsIn, share, smokeTest, type Window } from "./deploy/checks.ts";
import { currentVersion, makeRunner, type Runner, StepFailed, shiftTraffic, uploadVersion } from "./deploy/commands.ts";
import { type Environment, flag, loadEnvironment, ROOT } from "./deploy/environment.ts";

const args = process.argv.slice(2);
const dryRun = args.includes("--dry-run");
const runner = makeRunner(dryRun);
let env: Environment;
try {
  env = loadEnvironment(args[0]);
  env.url = flag(args, "url") ?? env.url;
} catch (error) {
  console.error(`deploy: ${(error as Error).message}`);
  process.exit(2);
}
const waitSeconds = Number(flag(args, "step-wait-seconds") ?? env.step_wait_seconds);
const adminKey = process.env.ADMIN_API_KEY;
const credentials = { clientKey: process.env.SMOKE_API_KEY };
const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1_000));

runner.log(`deploy ${env.worker} to ${env.name} (${env.url})${dryRun ? ", dry run" : ""}`);
runner.log(
  `plan: checks → build (≤ ${env.bundle_budget_kib} KiB gzipped) → migrate → upload → smoke at 0% → ${env.steps.map((s) => `${s}%`).join(" → ")}, ${waitSeconds} s between steps, rolling back if the 5xx share rises by more than ${env.max_error_rate_increase * 100} points`,
);
let previous: string | undefined;
let moved = false;
try {
  if (!dryRun && adminKey === undefined) throw new StepFailed("setup", "ADMIN_API_KEY must be set: the rollout reads the error rate from the audit log");
  if (args.includes("--skip-checks")) runner.log("[checks] skipped (--skip-checks)");
  else for (const script of ["typecheck", "lint", "test"]) await runner.run("checks", ["npm", "run", "--silent", script]);
  await build(runner, env);
  if (!dryRun && process.env.DATABASE_URL === undefined) throw new StepFailed("migrate", `DATABASE_URL must name ${env.name}'s database`);
  await runner.run("migrate", ["npm", "run", "--silent", "migrate"]);
  previous = await currentVersion(runner, env);
  const version = await uploadVersion(runner, env, gitTag());
  runner.log(`[upload] new version ${version}; ${previous} keeps the traffic for now`);
  await smokeTest(runner, env, version, credentials);
  const baseline = await measure(new Date(Date.now() - waitSeconds * 1_000), new Date());
  for (const percent of env.steps) {
    const stepStart = new Date();
    await shiftTraffic(runner, env, version, previous, percent);
    moved = true;
    runner.log(`[rollout ${percent}%] watching for ${waitSeconds} s`);
    if (!dryRun) await sleep(waitSeconds);
    const now = await measure(stepStart, new Date());
    if (now !== undefined && baseline !== undefined && now.total >= env.min_requests && share(now) > share(baseline) + env.max_error_rate_increase) {
      throw new StepFailed(
        `rollout ${percent}%`,
        `5xx share ${(share(now) * 100).toFixed(1)}% of ${now.total} requests, against ${(share(baseline) * 100).toFixed(1)}% before the rollout`,
      );
    }
  }
  await smokeTest(runner, env, undefined, credentials);
  runner.log(`deployed ${version} to ${env.name}`);
} catch (error) {
  const message = error instanceof StepFailed ? error.message : `unexpected: ${(error as Error).message}`;
  console.error(`deploy FAILED at ${message}`);
  if (moved && previous !== undefined) {
    console.error(`rolling back: ${previous} takes all traffic again`);
    await shiftTraffic(runner, env, previous, previous, 100, "rollback").then(
      () => console.error(`rolled back to ${previous}`),
      (rollback: Error) => console.error(`ROLLBACK FAILED: ${rollback.message}; run npm run rollback -- ${env.name} ${previous}`),
    );
  }
  process.exitCode = 1;
}

/** Builds as wrangler deploys (even in a dry run: the bundle's size is part of the plan) and holds it to the budget. */
async function build(runner: Runner, env: Environment): Promise<void> {
  // Its own directory: `wrangler versions upload` bundles again; this copy is only weighed.
  const outdir = ".wrangler/deploy-build";
  rmSync(`${ROOT}${outdir}`, { recursive: true, force: true });
  await makeRunner(false, runner.log).run("build", ["npx", "wrangler", "deploy", "--dry-run", "--outdir", outdir, "--env", env.name]);
  const kib = gzippedKib(`${ROOT}${outdir}`);
  runner.log(`[build] bundle ${kib.toFixed(1)} KiB gzipped (budget ${env.bundle_budget_kib} KiB)`);
  if (kib > env.bundle_budget_kib) throw new StepFailed("build", `the bundle is ${kib.toFixed(1)} KiB gzipped, over the ${env.bundle_budget_kib} KiB budget`);
}

/** The window's requests and 5xx answers, or undefined in a dry run. */
async function measure(from: Date, to: Date): Promise<Window | undefined> {
  runner.log(`[error rate] GET ${env.url}/v1/audit/summary?from=${from.toISOString()}&to=${to.toISOString()}`);
  if (dryRun) return undefined;
  const window = await errorsIn(env, adminKey!, from, to);
  runner.log(`[error rate] ${window.errors} of ${window.total} requests answered 5xx`);
  return window;
}

function gitTag(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "untracked";
  }
}
