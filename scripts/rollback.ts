/**
 * `npm run rollback -- ENV [VERSION] [--dry-run] [--url URL]`: puts the previous version (or the
 * named one) back on all of the environment's traffic with `wrangler rollback`, then
 * smoke-tests what answers. It does not undo database migrations (they are forward-only
 * and each works with the release before it) or secrets (set them back by hand).
 */

import { smokeTest } from "./deploy/checks.ts";
import { makeRunner, StepFailed, wrangler } from "./deploy/commands.ts";
import { flag, loadEnvironment } from "./deploy/environment.ts";

const args = process.argv.slice(2);
const positionals = args.filter((arg, i) => !arg.startsWith("--") && args[i - 1] !== "--url");
const runner = makeRunner(args.includes("--dry-run"));
try {
  const env = loadEnvironment(positionals[0]);
  env.url = flag(args, "url") ?? env.url;
  const version = positionals[1];
  await runner.run("rollback", [
    ...wrangler(),
    "rollback",
    ...(version === undefined ? [] : [version]),
    "--env",
    env.name,
    "--yes",
    "--message",
    "tiergate rollback",
  ]);
  await smokeTest(runner, env, undefined, { clientKey: process.env.SMOKE_API_KEY });
  runner.log(`rolled ${env.name} back to ${version ?? "the previous version"}; migrations and secrets are as they were (a rollback does not undo them)`);
} catch (error) {
  console.error(`rollback FAILED at ${error instanceof StepFailed ? error.message : (error as Error).message}`);
  process.exitCode = 1;
}
