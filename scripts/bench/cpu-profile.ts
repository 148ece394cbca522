/**
 * CPU profiles of the router in workerd: an unminified build (functions keep their
 * names), the DevTools inspector's sampling profiler, and self time by source file,
 * by function and by part of the request path.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { freePort } from "../local/services.ts";
import { startRouter } from "../local/worker.ts";
import { loadInOwnProcess } from "./load.ts";
import { cpuSeconds, processTree } from "./targets.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

type Profile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
};
/** Self time in µs: all of it, by source file, by function. */
export type SelfTime = { totalUs: number; byFile: Map<string, number>; byFunction: Map<string, number> };

export type RouterProfile = {
  /** The measured run, without the profiler (which costs the isolate time of its own). */
  rps: number;
  cpuUsPerRequest: number;
  /** Requests sent in all (warm-up, measured and profiled runs), for what the stores counted. */
  sentInAll: number;
  time: SelfTime;
};

export type ProfileLoad = {
  /** Where the load goes (`/v1/chat/completions` unless said). */
  path?: string;
  body: string;
  /** The request's headers, made once the router is up (a client key needs it). */
  headers: (routerUrl: string) => Promise<Record<string, string>>;
  concurrency: number;
  /** Requests a second, each sent on time whatever the others do (an open loop), in place of `concurrency` in flight. */
  rate?: number;
  durationMs: number;
};

/**
 * Serves an unminified build with `bindings` (workerd moved to core `pinTo` if given),
 * warms it up, measures its CPU per request at the given load, then profiles it under
 * the same load.
 */
export async function profileRouter(bindings: Record<string, string>, load: ProfileLoad, pinTo?: string): Promise<RouterProfile> {
  const bundle = buildUnminified();
  const inspectorPort = await freePort();
  const router = await startRouter(bindings, { scriptPath: bundle, inspectorPort });
  try {
    const workerd = workerdPid();
    if (pinTo !== undefined) execFileSync("taskset", ["-a", "-p", "-c", pinTo, String(workerd)], { stdio: "ignore" });
    const spec = {
      url: `${router.url}${load.path ?? "/v1/chat/completions"}`,
      headers: await load.headers(router.url),
      bodies: [load.body],
      ...(load.rate === undefined ? { mode: "closed" as const } : { mode: "rate" as const, rate: load.rate }),
      concurrency: load.concurrency,
      durationMs: load.durationMs,
    };
    const warmUp = await loadInOwnProcess({ ...spec, durationMs: Math.min(2_000, load.durationMs) });
    const cpuBefore = cpuSeconds(workerd);
    const measured = await loadInOwnProcess(spec);
    if (measured.ok === 0) throw new Error(`the router answered no request of the profile's load: ${JSON.stringify(measured.statuses)}`);
    const cpuUsPerRequest = Math.round(((cpuSeconds(workerd) - cpuBefore) * 1e6) / measured.sent);
    let profiled = 0;
    const profile = await profileWhile(inspectorPort, async () => {
      profiled = (await loadInOwnProcess(spec)).sent;
    });
    return { rps: measured.rps, cpuUsPerRequest, sentInAll: warmUp.sent + measured.sent + profiled, time: selfTime(profile, bundle) };
  } finally {
    await router.close();
  }
}

/** The worker, built unminified into a folder of its own; the bundle's path. */
export function buildUnminified(): string {
  const outdir = mkdtempSync(`${tmpdir()}/tiergate-profile-`);
  execFileSync(`${root}node_modules/.bin/wrangler`, ["deploy", "--dry-run", "--outdir", outdir, "--env=", "--minify=false"], { cwd: root, stdio: "ignore" });
  return `${outdir}/index.js`;
}

/** The newest workerd process under this one (Miniflare's). */
function workerdPid(): number {
  const found = processTree(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd";
    } catch {
      return false; // ended meanwhile
    }
  });
  if (found.length === 0) throw new Error("no workerd process under this one");
  return Math.max(...found);
}

/** Samples the worker's isolate every 100 µs while `work` runs. */
async function profileWhile(inspectorPort: number, work: () => Promise<unknown>): Promise<Profile> {
  const inspector = await connectInspector(inspectorPort);
  try {
    await inspector.call("Profiler.enable");
    await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.call("Profiler.start");
    await work();
    return ((await inspector.call("Profiler.stop")) as { profile: Profile }).profile;
  } finally {
    inspector.close();
  }
}

/** Where the busy samples fell; frames of the bundle are named by source file, the runtime's own (fetch, Response, GC) by name. */
function selfTime(profile: Profile, bundle: string): SelfTime {
  const fileOfLine = sourceFiles(readFileSync(bundle, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const result: SelfTime = { totalUs: 0, byFile: new Map(), byFunction: new Map() };
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!;
    const us = profile.timeDeltas[i] ?? 0;
    if (frame.functionName === "(idle)") return;
    result.totalUs += us;
    const file = frame.url.endsWith("index.js") ? fileOfLine(frame.lineNumber) : frame.url || frame.functionName || "(runtime)";
    add(result.byFile, file, us);
    add(result.byFunction, `${frame.functionName || "(anonymous)"}  ${file}`, us);
  });
  return result;
}

/** The parts of the request path, each a test on a sample's source file; the first that matches takes it. */
const PARTS: readonly { part: string; files: RegExp }[] = [
  { part: "reading and validating the request body", files: /^(src\/http\/json-body|src\/openai\/chat-request|zod\/)/ },
  { part: "the routing decision", files: /^src\/routing\// },
  { part: "the provider call and reading its answer", files: /^(src\/providers\/|p-retry\/|eventsource-parser\/)/ },
  { part: "Hono: routing, context, headers", files: /^hono\// },
  { part: "the audit record: built, numbered, signed", files: /^src\/(audit|crypto)\// },
  {
    part: "Redis: the Upstash client, the cache, the after-response batch (breakers, metrics)",
    files: /^(@upstash\/|src\/(pipeline|storage|reliability|observability|cache)\/)/,
  },
  { part: "keys, limits and budgets", files: /^src\/security\// },
  { part: "the rest of the router", files: /^src\// },
  { part: "other libraries", files: /\.m?js$/ },
  { part: "workerd itself: HTTP, subrequests, Response and Headers objects, timers, GC", files: /.*/ },
];

/** Each part's share of the busy samples, largest first. */
export function byPart(time: SelfTime): { part: string; share: number }[] {
  const shares = new Map<string, number>();
  for (const [file, us] of time.byFile) {
    const { part } = PARTS.find(({ files }) => files.test(file))!;
    shares.set(part, (shares.get(part) ?? 0) + us / time.totalUs);
  }
  return [...shares.entries()].map(([part, share]) => ({ part, share })).sort((a, b) => b.share - a.share);
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
