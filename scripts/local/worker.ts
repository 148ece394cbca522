/** Serves the built worker (dist/index.js, from `npm run build`) in workerd through Miniflare. */
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundle = `${root}dist/index.js`;
const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(readFileSync(`${root}wrangler.toml`, "utf8"))![1]!;

export type Router = {
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POSTs a JSON value (or a raw string) to `path`. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Fires a cron trigger, e.g. the every-minute audit flush. */
  scheduled(cron?: string): Promise<void>;
  close(): Promise<void>;
};

/** Serves the router on `port` (0: any free one); `scriptPath` serves another worker module instead. */
export async function startRouter(bindings: Record<string, string> = {}, port = 0, scriptPath = bundle): Promise<Router> {
  if (!existsSync(scriptPath)) throw new Error(`${scriptPath} is missing: run \`npm run build\` (npm test does)`);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      scriptPath,
      modules: true,
      compatibilityDate,
      bindings,
      cf: false,
      host: "127.0.0.1",
      port,
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
    close: () => mf.dispose(),
  };
}
