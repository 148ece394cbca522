/**
 * Vitest global setup: builds the worker bundle (dist/) from the current source before
 * any test runs, so `npx vitest run test/integration/x.test.ts` after an edit never
 * tests a stale build.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export default function buildWorker(): void {
  execFileSync(`${root}node_modules/.bin/wrangler`, ["deploy", "--dry-run", "--outdir", "dist", "--env="], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
}
