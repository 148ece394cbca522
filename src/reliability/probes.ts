/**
 * Health probes: each configured provider checked cheaply (its `GET /models`, or a
 * 1-token completion on its cheapest model for providers without one), the result
 * kept in Redis for /health and /v1/models, and fed to the provider's breaker: a
 * failed probe opens it before any client pays for finding out, a passed one closes
 * it. Run by the every-minute cron, and live by `/health?deep=1`.
 * Failure policy: a probe that cannot be stored is still returned to the caller.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config/env.ts";
import type { Provider } from "../config/providers.ts";
import { adapterFor } from "../providers/adapters.ts";
import { cheapestOf } from "../routing/registry.ts";
import { sanitizeProviderMessage } from "../security/redact.ts";
import type { Tracked } from "../storage/availability.ts";
import { hashEntries } from "../storage/redis.ts";
import { healthKeys, providerTarget, type Report } from "./breakers.ts";

/** What the probes use: the providers, where to keep results, and how to tell the breakers. */
export type ProbeDeps = {
  config: Pick<Config, "providers" | "probes" | "registry" | "secrets" | "keyPrefix">;
  redis: Pick<Redis, "hset"> | undefined;
  stores: { tracked: Tracked };
  /** Sends reports to the breakers (the after-response pipeline's script). */
  report(reports: readonly Report[]): Promise<void>;
};

export type ProbeResult = { provider: string; ok: boolean; status: number | null; latency_ms: number; error: string | null; checked_at: string };

/** Probes every configured provider whose probe is not "off", at once; stores and reports the results. */
export async function probeProviders(deps: ProbeDeps): Promise<ProbeResult[]> {
  const { config, redis } = deps;
  const providers = [...config.providers.values()].filter((p) => p.configured && (config.probes.kinds[p.id] ?? "models") !== "off");
  const results = await Promise.all(providers.map((provider) => probe(config, provider)));
  if (redis !== undefined && results.length > 0) {
    await deps.stores
      .tracked("redis", () => redis.hset(healthKeys(config).probes, Object.fromEntries(results.map((r) => [r.provider, JSON.stringify(r)]))))
      .catch(() => {});
    const reports = results.map((r) => ({ target: providerTarget(r.provider), outcome: r.ok ? ("close" as const) : ("open" as const), ms: -1 }));
    await deps.report(reports).catch(() => {});
  }
  return results;
}

/** The stored probes, from HGETALL's answer; a value this version cannot read counts as never probed. */
export function probesFrom(stored: unknown): Map<string, ProbeResult> {
  const out = new Map<string, ProbeResult>();
  for (const [provider, text] of hashEntries(stored)) {
    try {
      out.set(provider, (typeof text === "string" ? JSON.parse(text) : text) as ProbeResult);
    } catch {
      // skipped
    }
  }
  return out;
}

async function probe(config: ProbeDeps["config"], provider: Provider): Promise<ProbeResult> {
  const startedAt = Date.now();
  const done = (ok: boolean, status: number | null, error: string | null): ProbeResult => ({
    provider: provider.id,
    ok,
    status,
    latency_ms: Date.now() - startedAt,
    error: error === null ? null : sanitizeProviderMessage(error, config.secrets),
    checked_at: new Date(startedAt).toISOString(),
  });
  try {
    const response = await fetch(...(await probeRequest(config, provider)));
    await response.arrayBuffer();
    return response.ok ? done(true, response.status, null) : done(false, response.status, `answered ${response.status}`);
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return done(false, null, timedOut ? `no answer within ${config.probes.timeoutMs} ms` : "could not be reached");
  }
}

async function probeRequest(config: ProbeDeps["config"], provider: Provider): Promise<[string, RequestInit]> {
  const kind = (config.probes.kinds[provider.id] ?? "models") === "models" ? "models" : "completion";
  const cheapest = cheapestOf(config.registry.filter((model) => model.provider === provider.id));
  const { url, init } = await adapterFor(provider).probeRequest(provider, kind, cheapest?.upstream_model ?? "probe");
  return [url, { ...init, signal: AbortSignal.timeout(config.probes.timeoutMs) }];
}
