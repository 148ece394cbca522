/**
 * What a deploy asks of the running worker: a smoke test (of a version that takes no
 * traffic yet, reached through Cloudflare's version-override header) and the share
 * of 5xx answers in a window, from the audit log's summary.
 */
import { CONSTITUTIONAL_HASH } from "../../src/config/constitution.ts";
import { type Runner, StepFailed } from "./commands.ts";
import type { Environment } from "./environment.ts";

export type SmokeCredentials = { clientKey: string | undefined };

/** `/health` with the pinned hash, a routing decision, and (with a smoke model) one completion. */
export async function smokeTest(runner: Runner, env: Environment, version: string | undefined, credentials: SmokeCredentials): Promise<void> {
  const step = version === undefined ? "smoke" : `smoke ${version}`;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (version !== undefined) headers["cloudflare-workers-version-overrides"] = `${env.worker}="${version}"`;
  if (credentials.clientKey !== undefined) headers.authorization = `Bearer ${credentials.clientKey}`;
  const calls: [string, RequestInit][] = [
    ["/health", { headers }],
    ["/v1/route", { method: "POST", headers, body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "smoke test" }] }) }],
  ];
  if (env.smoke_model !== null) {
    const body = { model: env.smoke_model, max_tokens: 5, messages: [{ role: "user", content: "Reply with the word ok." }] };
    calls.push(["/v1/chat/completions", { method: "POST", headers: { ...headers, "cache-control": "no-cache, no-store" }, body: JSON.stringify(body) }]);
  }
  for (const [path, init] of calls) {
    runner.log(`[${step}] ${init.method ?? "GET"} ${env.url}${path}`);
    if (runner.dryRun) continue;
    const response = await fetch(`${env.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) }).catch((error: Error) => {
      throw new StepFailed(step, `${path} could not be reached: ${error.message}`);
    });
    const text = await response.text();
    if (response.status !== 200) throw new StepFailed(step, `${path} answered ${response.status}: ${text.slice(0, 300)}`);
    if (response.headers.get("x-constitutional-hash") !== CONSTITUTIONAL_HASH)
      throw new StepFailed(step, `${path} does not carry the constitutional hash ${CONSTITUTIONAL_HASH}`);
  }
}

export type Window = { total: number; errors: number };

/** Requests and 5xx answers the audit log holds for [from, to). */
export async function errorsIn(env: Environment, adminKey: string, from: Date, to: Date): Promise<Window> {
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  const response = await fetch(`${env.url}/v1/audit/summary?${query}`, {
    headers: { authorization: `Bearer ${adminKey}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new StepFailed("error rate", `/v1/audit/summary answered ${response.status}`);
  const summary = (await response.json()) as { total: number; by_class: Record<string, number> };
  return { total: summary.total, errors: summary.by_class["5xx"] ?? 0 };
}

export const share = (window: Window): number => (window.total === 0 ? 0 : window.errors / window.total);
