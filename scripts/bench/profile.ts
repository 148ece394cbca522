/**
 * `npm run bench:profile [-- --stateless] [-- --keyed] [-- --against <git ref>]`:
 * where the router's request path spends its CPU. Builds the worker unminified (so
 * functions keep their names), serves it in workerd pinned to its own core as the
 * bench pins it, drives it with the bench's miss-path load (cache bypassed) and prints
 * its CPU per request, what reached Redis, and a CPU profile taken over the DevTools
 * inspector: self time by source file and by function.
 *
 * With `--against <ref>` it measures instead what a change bought: the worker as built
 * at `ref` and as it is now, served in turn, several rounds each, in the same run; it
 * prints each one's median CPU per request and their ratio.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { freePort } from "../local/services.ts";
import { startStackOnMachineServers } from "../local/stack.ts";
import { type Router, startRouter } from "../local/worker.ts";
import { type LoadSpec, loadInOwnProcess } from "./load.ts";
import { pinForBench } from "./pinning.ts";
import { cpuSeconds, startFakeProvider } from "./targets.ts";

const { values: options } = parseArgs({
  options: { stateless: { type: "boolean" }, keyed: { type: "boolean" }, against: { type: "string" }, rounds: { type: "string", default: "4" } },
});
const root = fileURLToPath(new URL("../..", import.meta.url));
const ADMIN_KEY = "profile-admin-key-0123456789";
const PROVIDER_KEY = "profile-provider-key-0123456789";
const PROMPT =
  "Summarise this support ticket in two sentences and suggest a priority (low, medium, high): the export to CSV " +
  "button times out for reports with more than ten thousand rows since yesterday's release.";
const what = options.stateless ? "router, no stores" : options.keyed ? "router with a client key" : "router as deployed";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type Profile = { nodes: { id: number; callFrame: CallFrame }[]; samples: number[]; timeDeltas: number[] };
type Served = { router: Router; workerd: number; spec: LoadSpec; inspectorPort: number };

// As the bench pins: workerd alone on the target's core, everything else on the other.
const pinning = pinForBench();
const fake = await startFakeProvider();
const stack = options.stateless ? undefined : await startStackOnMachineServers("tg_profile");
try {
  if (options.against === undefined) await profileNow();
  else await compare(options.against, Number(options.rounds));
} finally {
  await fake.stop();
  await stack?.stop();
  pinning.restore();
}

async function profileNow(): Promise<void> {
  const bundle = build(root);
  const served = await serve(bundle);
  try {
    await loadInOwnProcess({ ...served.spec, durationMs: 2_000 });
    stack?.resetTraffic();
    // CPU per request without the profiler, which costs the isolate time of its own.
    const plain = await measureCpu(served, 8_000);
    console.log(`${what}: ${plain.rps} req/s at 10 in flight, ${plain.cpuUs} µs of workerd CPU per request (unprofiled)`);
    const redis = stack?.traffic().redis;
    if (redis) {
      const commands = Object.values(redis.commands).reduce((sum, n) => sum + n, 0);
      const per = (n: number) => (n / plain.sent).toFixed(2);
      console.log(`Redis under this load, per request: ${per(redis.requests)} subrequests, ${per(commands)} commands (${JSON.stringify(redis.commands)})`);
    }
    const inspector = await connectInspector(served.inspectorPort);
    await inspector.call("Profiler.enable");
    await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.call("Profiler.start");
    await loadInOwnProcess({ ...served.spec, durationMs: 8_000 });
    const { profile } = (await inspector.call("Profiler.stop")) as { profile: Profile };
    inspector.close();
    report(profile, sourceFiles(readFileSync(bundle, "utf8")));
  } finally {
    await served.router.close();
  }
}

/** The worker at `ref` and now, served in turn `rounds` times each; medians and their ratio. */
async function compare(ref: string, rounds: number): Promise<void> {
  const checkout = mkdtempSync(`${tmpdir()}/tiergate-at-`);
  execFileSync("git", ["worktree", "add", "--detach", checkout, ref], { cwd: root, stdio: "ignore" });
  try {
    symlinkSync(`${root}node_modules`, `${checkout}/node_modules`);
    const bundles = { [ref]: build(checkout), now: build(root) };
    const cpu: Record<string, number[]> = { [ref]: [], now: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [name, bundle] of Object.entries(bundles)) {
        const served = await serve(bundle);
        try {
          await loadInOwnProcess({ ...served.spec, durationMs: 1_500 });
          const { rps, cpuUs } = await measureCpu(served, 5_000);
          cpu[name]!.push(cpuUs);
          console.log(`round ${round + 1}, ${name}: ${rps} req/s, ${cpuUs} µs of CPU per request`);
        } finally {
          await served.router.close();
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [before, after] = [median(cpu[ref]!), median(cpu.now!)];
    console.log(`${what}, median CPU per request: ${ref} ${before} µs, now ${after} µs: ${(after / before).toFixed(2)}×`);
  } finally {
    execFileSync("git", ["worktree", "remove", "--force", checkout], { cwd: root, stdio: "ignore" });
    if (existsSync(checkout)) rmSync(checkout, { recursive: true, force: true });
  }
}

/** The worker of the project at `dir`, built unminified into a folder of its own. */
function build(dir: string): string {
  const outdir = mkdtempSync(`${tmpdir()}/tiergate-profile-`);
  execFileSync(`${root}node_modules/.bin/wrangler`, ["deploy", "--dry-run", "--outdir", outdir, "--env=", "--minify=false"], { cwd: dir, stdio: "ignore" });
  return `${outdir}/index.js`;
}

async function serve(bundle: string): Promise<Served> {
  const inspectorPort = await freePort();
  const storage = stack
    ? { ...stack.bindings, KEY_PREFIX: `profile${Date.now()}`, AUDIT_HMAC_KEY: "profile-audit-key-0123456789", ADMIN_API_KEY: ADMIN_KEY }
    : {};
  const router = await startRouter(
    { OPENROUTER_BASE_URL: fake.url, OPENROUTER_API_KEY: PROVIDER_KEY, GROQ_BASE_URL: fake.url, GROQ_API_KEY: PROVIDER_KEY, ...storage },
    { scriptPath: bundle, inspectorPort },
  );
  const workerd = workerdPid();
  if (pinning.pinned) execFileSync("taskset", ["-a", "-p", "-c", pinning.target, String(workerd)], { stdio: "ignore" });
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-cache, no-store" };
  if (options.keyed) headers.authorization = `Bearer ${await clientKey(router)}`;
  const spec: LoadSpec = {
    url: `${router.url}/v1/chat/completions`,
    headers,
    bodies: [JSON.stringify({ model: "auto", messages: [{ role: "user", content: PROMPT }] })],
    mode: "closed",
    concurrency: 10,
    durationMs: 0,
  };
  return { router, workerd, spec, inspectorPort };
}

async function measureCpu(served: Served, durationMs: number): Promise<{ rps: number; sent: number; cpuUs: number }> {
  const before = cpuSeconds(served.workerd);
  const result = await loadInOwnProcess({ ...served.spec, durationMs });
  return { rps: result.rps, sent: result.sent, cpuUs: Math.round(((cpuSeconds(served.workerd) - before) * 1e6) / result.sent) };
}

/** The workerd process Miniflare started for this script (the newest, when one is closing). */
function workerdPid(): number {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === process.pid && stat.includes("(workerd)")) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  if (found.length === 0) throw new Error("no workerd process under this one");
  return Math.max(...found);
}

/** The bundle's line → the source file it came from, from esbuild's `// path` markers. */
function sourceFiles(code: string): (line: number) => string {
  const starts: { line: number; file: string }[] = [];
  code.split("\n").forEach((text, line) => {
    const marker = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(text);
    if (marker) starts.push({ line, file: marker[1]!.replace(/^node_modules\//, "") });
  });
  return (line) => {
    let found = "(bundle)";
    for (const start of starts) {
      if (start.line > line) break;
      found = start.file;
    }
    return found;
  };
}

function report(profile: Profile, fileOfLine: (line: number) => string): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!;
    const us = profile.timeDeltas[i] ?? 0;
    if (frame.functionName === "(idle)") return;
    total += us;
    // Frames of the bundle are named by source file; the runtime's own (fetch, Response, GC) by name.
    const file = frame.url.endsWith("index.js") ? fileOfLine(frame.lineNumber) : frame.url || frame.functionName;
    add(byFile, file, us);
    add(byFunction, `${frame.functionName || "(anonymous)"}  ${file}`, us);
  });
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`)
      .join("\n");
  console.log(`busy samples: ${(total / 1000).toFixed(0)} ms of CPU\n\nby source file (self time):\n${top(byFile, 25)}`);
  console.log(`\nby function (self time):\n${top(byFunction, 40)}`);
}

async function connectInspector(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string; title: string }[];
  const target = targets.find((t) => !t.title.startsWith("core:")) ?? targets[0]!;
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.once("open", resolve));
  let next = 0;
  return {
    call: (method: string, params: object = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next;
        const onMessage = (data: WebSocket.RawData) => {
          const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
          if (message.id !== id) return;
          ws.off("message", onMessage);
          resolve(message.result);
        };
        ws.on("message", onMessage);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function clientKey(router: Router): Promise<string> {
  const response = await router.post(
    "/v1/admin/keys",
    { name: "profile", tenant: "profile", rpm: 1_000_000_000, tpm: 2_000_000_000 },
    { authorization: `Bearer ${ADMIN_KEY}` },
  );
  return ((await response.json()) as { key: string }).key;
}
