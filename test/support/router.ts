/** Serves the built worker (dist/index.js, from `npm run build`) in workerd through Miniflare. */
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_BEHAVIOUR, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";

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

export async function startRouter(bindings: Record<string, string> = {}): Promise<Router> {
  if (!existsSync(bundle)) throw new Error("dist/index.js is missing: run `npm run build` (npm test does)");
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      scriptPath: bundle,
      modules: true,
      compatibilityDate,
      bindings,
      cf: false,
      host: "127.0.0.1",
      port: 0,
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

/** Bindings that point both built-in providers at a fake upstream. */
export function fakeProviders(baseUrl: string, key = "test-key-0123456789"): Record<string, string> {
  return { OPENROUTER_BASE_URL: baseUrl, OPENROUTER_API_KEY: key, GROQ_BASE_URL: baseUrl, GROQ_API_KEY: key };
}

let asked = 0;
/** A prompt no earlier test sent: the router's cache would answer a repeat without calling the provider. */
export const uniquePrompt = (text = "hi"): string => `${text} #${++asked}`;

export const chat = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: "auto",
  messages: [{ role: "user", content }],
  ...extra,
});

/** A fake provider and a router pointed at it; `reset()` restores the fake's default behaviour. */
export async function startWithFakeProvider(bindings: Record<string, string> = {}, key?: string) {
  const fake = await startFakeUpstream();
  const router = await startRouter({ ...fakeProviders(fake.url, key), ...bindings });
  return {
    fake,
    router,
    reset: (): void => void (fake.behaviour = { ...DEFAULT_BEHAVIOUR }),
    close: async (): Promise<void> => {
      await router.close();
      await fake.close();
    },
  };
}
