/**
 * A stand-in for the wrangler commands a deploy and a rollback run, for tests (no
 * Cloudflare account is reachable here). It records every call in
 * `$FAKE_WRANGLER_DIR/calls.jsonl`, keeps which version takes the traffic in
 * `state.json`, answers as wrangler does, and fails any call whose arguments contain
 * `$FAKE_WRANGLER_FAIL`.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const dir = process.env.FAKE_WRANGLER_DIR!;
const args = process.argv.slice(2);
const line = args.join(" ");
appendFileSync(`${dir}/calls.jsonl`, `${JSON.stringify(args)}\n`);

type State = { current: string; previous: string | null; uploads: number };
const statePath = `${dir}/state.json`;
const state: State = existsSync(statePath)
  ? (JSON.parse(readFileSync(statePath, "utf8")) as State)
  : { current: "00000000-0000-4000-8000-000000000001", previous: null, uploads: 0 };

const fail = process.env.FAKE_WRANGLER_FAIL;
if (fail && line.includes(fail)) {
  console.error(`✘ [ERROR] fake wrangler told to fail: ${line}`);
  process.exit(1);
}

if (line.startsWith("versions upload")) {
  state.uploads += 1;
  console.log(`Total Upload: 1000.00 KiB / gzip: 190.00 KiB\nWorker Version ID: 00000000-0000-4000-8000-${String(100 + state.uploads).padStart(12, "0")}`);
} else if (line.startsWith("deployments status")) {
  console.log(JSON.stringify({ id: "deployment", versions: [{ version_id: state.current, percentage: 100 }] }));
} else if (line.startsWith("versions deploy")) {
  // The spec with the larger share is the one that now takes most of the traffic.
  const specs = args.filter((arg) => /@\d+%$/.test(arg)).map((arg) => ({ id: arg.split("@")[0]!, percent: Number(arg.split("@")[1]!.slice(0, -1)) }));
  const top = specs.sort((a, b) => b.percent - a.percent)[0]!;
  if (top.id !== state.current) [state.previous, state.current] = [state.current, top.id];
} else if (line.startsWith("rollback")) {
  const named = args[1] !== undefined && !args[1].startsWith("--") ? args[1] : state.previous;
  if (named === null) {
    console.error("✘ [ERROR] no previous version to roll back to");
    process.exit(1);
  }
  [state.previous, state.current] = [state.current, named];
}
writeFileSync(statePath, JSON.stringify(state));
