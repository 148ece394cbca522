/**
 * `npm test`'s first step: the tools the tests run besides Node, installed if missing.
 * A Node script like the others in package.json (not a shell one) so that it is
 * type-checked and linted with them, and looks a tool up on PATH without spawning a
 * shell; when everything is present it is a handful of stat calls.
 *
 * - pg_dump, pg_restore, psql (postgresql-client): backup and restore;
 * - prometheus, promtool (prometheus), prometheus-pushgateway: metrics, dashboard
 *   queries, alert rules;
 * - chromium: the dashboard page (at $CHROMIUM_PATH or /usr/bin/chromium, as
 *   test/integration/dashboard.test.ts launches it).
 *
 * As root with apt-get it installs what is missing. Otherwise it prints one message
 * naming the command to run and exits 1, before vitest starts. Then the servers the
 * tests talk to, Redis and PostgreSQL, are checked, and started if they are this
 * machine's own and down (test-services.ts).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { ensureServers } from "./test-services.ts";

const TOOLS: { tool: string; pkg: string }[] = [
  { tool: "pg_dump", pkg: "postgresql-client" },
  { tool: "pg_restore", pkg: "postgresql-client" },
  { tool: "psql", pkg: "postgresql-client" },
  { tool: "prometheus", pkg: "prometheus" },
  { tool: "promtool", pkg: "prometheus" },
  { tool: "prometheus-pushgateway", pkg: "prometheus-pushgateway" },
  { tool: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", pkg: "chromium" },
];

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** `command -v`: a path as it is, a bare name searched on PATH. */
const found = (tool: string): boolean =>
  tool.includes("/") ? executable(tool) : (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && executable(join(dir, tool)));

const missing = (): { tool: string; pkg: string }[] => TOOLS.filter(({ tool }) => !found(tool));

const packagesOf = (tools: { pkg: string }[]): string[] => [...new Set(tools.map(({ pkg }) => pkg))];

function stop(tools: { tool: string; pkg: string }[], why: string): never {
  const root = process.getuid?.() === 0;
  const command = `${root ? "" : "sudo "}apt-get install -y --no-install-recommends ${packagesOf(tools).join(" ")}`;
  console.error(`npm test: the tests need ${tools.map(({ tool }) => tool).join(", ")}, not found, and ${why}. Run this, then npm test again:\n  ${command}`);
  process.exit(1);
}

const absent = missing();
if (absent.length > 0) {
  const chromiumPath = process.env.CHROMIUM_PATH;
  if (chromiumPath !== undefined && absent.some(({ tool }) => tool === chromiumPath)) {
    console.error(`npm test: CHROMIUM_PATH=${chromiumPath} is not an executable. Point it at a Chromium, or unset it to use /usr/bin/chromium.`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0) stop(absent, "this is not root");
  if (!found("apt-get")) stop(absent, "apt-get is not on PATH (on another system, install the same tools with its package manager)");

  const packages = packagesOf(absent);
  console.error(`npm test: installing ${packages.join(" ")} (for ${absent.map(({ tool }) => tool).join(", ")})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = (): void => {
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: ["ignore", "inherit", "inherit"], env });
  };
  try {
    try {
      install();
    } catch {
      // A machine whose package lists are stale or empty: refresh them once, then again.
      execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "inherit", "inherit"], env });
      install();
    }
  } catch {
    stop(absent, "apt-get failed (its output is above)");
  }
  const still = missing();
  if (still.length > 0) stop(still, "apt-get installed their packages without them");
}

await ensureServers();
