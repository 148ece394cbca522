/** Serves the built worker (dist/index.js, from `npm run build`) in workerd through Miniflare. */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { isTextModule } from "./text-modules.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundle = `${root}dist/index.js`;
const wranglerToml = readFileSync(`${root}wrangler.toml`, "utf8");
const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(wranglerToml)![1]!;
const compatibilityFlags = [...(/compatibility_flags\s*=\s*\[([^\]]*)\]/.exec(wranglerToml)?.[1]?.matchAll(/"([^"]+)"/g) ?? [])].map((m) => m[1]!);

export type Router = {
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POSTs a JSON value (or a raw string) to `path`. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Fires a cron trigger, e.g. the every-minute audit flush. */
  scheduled(cron?: string): Promise<void>;
  /** Every line workerd logged (console output and runtime warnings), oldest first, at most 5,000. */
  logs: string[];
  close(): Promise<void>;
};

const textModules = (dir: string) =>
  readdirSync(dir)
    .filter(isTextModule)
    .map((file) => ({ type: "Text" as const, path: `${dir}/${file}` }));

export type ServeOptions = {
  /** 0 (the default): any free port. */
  port?: number;
  /** Another worker module to serve instead of the router's bundle. */
  scriptPath?: string;
  /** Opens workerd's DevTools inspector on this port (the CPU profiler reads it). */
  inspectorPort?: number;
};

/** Serves the router (or `options.scriptPath`) in workerd. */
export async function startRouter(bindings: Record<string, string> = {}, options: ServeOptions = {}): Promise<Router> {
  const { port = 0, scriptPath = bundle, inspectorPort } = options;
  if (!existsSync(scriptPath)) throw new Error(`${scriptPath} is missing: run \`npm run build\` (npm test does)`);
  const logs: string[] = [];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      // The bundle, and beside it the files wrangler.toml's [[rules]] bundle as text, named relative to their folder.
      modules: [{ type: "ESModule", path: scriptPath }, ...textModules(dirname(scriptPath))],
      modulesRoot: dirname(scriptPath),
      compatibilityDate,
      compatibilityFlags,
      bindings,
      cf: false,
      host: "127.0.0.1",
      port,
      ...(inspectorPort === undefined ? {} : { inspectorPort }),
      handleStructuredLogs: ({ level, message }) => {
        logs.push(`${level}: ${message}`);
        if (logs.length > 5_000) logs.shift();
      },
    }),
  );
  const url = (await mf.ready).href.replace(/\/$/, "");
  const call = (path: string, init?: RequestInit): Promise<Response> => fetch(`${url}${path}`, init);
  return {
    url,
    fetch: call,
    post: (path, body, headers = {}) =>
      call(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    scheduled: async (cron = "* * * * *") => {
      const result = await (await mf.getWorker()).scheduled({ cron });
      if (result.outcome !== "ok") throw new Error(`scheduled(${cron}) ended ${result.outcome}`);
    },
    logs,
    close: () => mf.dispose(),
  };
}
