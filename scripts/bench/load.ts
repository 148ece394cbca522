/**
 * The load generator, run as its own process: `node load.ts '<LoadSpec JSON>'`
 * prints a `LoadResult` JSON line. Open loop at a fixed rate (latency counted
 * from each request's scheduled start, so a stall is not hidden), closed loop at
 * a fixed concurrency, or time to first byte. Bounded in count and time; loopback only.
 * Not autocannon: its histograms keep whole milliseconds, too coarse for sub-ms overhead.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";

export type LoadSpec = {
  url: string;
  headers: Record<string, string>;
  /** Request bodies, sent in turn. */
  bodies: string[];
  mode: "rate" | "closed" | "ttfb";
  /** Requests per second (rate mode). */
  rate?: number;
  /** Requests in flight (closed and ttfb modes). */
  concurrency?: number;
  durationMs: number;
  maxRequests?: number;
};

export type Percentiles = { p50: number; p90: number; p99: number; max: number };
export type LoadResult = {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationMs: number;
  rps: number;
  latencyMs: Percentiles;
  statuses: Record<string, number>;
};

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
  const round = (x: number): number => Math.round(x * 1_000) / 1_000;
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? Number.NaN) };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const target = new URL(spec.url);
  const pool = new Pool(target.origin, { connections: 128, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let errors = 0;

  /** One request; latency from `since` to the first body byte (ttfb) or to the whole body. */
  const one = async (since: number): Promise<void> => {
    const body = spec.bodies[sent % spec.bodies.length];
    sent += 1;
    try {
      const response = await pool.request({ path: target.pathname, method: "POST", headers: spec.headers, body });
      if (spec.mode === "ttfb") {
        let first: number | undefined;
        for await (const _ of response.body) first ??= performance.now();
        latencies.push((first ?? performance.now()) - since);
      } else {
        await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
        latencies.push(performance.now() - since);
      }
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    } catch {
      errors += 1;
    }
  };

  const started = performance.now();
  const deadline = started + spec.durationMs;
  const limit = spec.maxRequests ?? Number.POSITIVE_INFINITY;
  if (spec.mode === "rate") {
    const rate = spec.rate ?? 100;
    const total = Math.min(limit, Math.floor((rate * spec.durationMs) / 1_000));
    const inflight: Promise<void>[] = [];
    let launched = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1_000) + 1);
        while (launched < due) inflight.push(one(started + (launched++ * 1_000) / rate));
        if (launched < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    await Promise.all(inflight);
  } else {
    const workers = Array.from({ length: spec.concurrency ?? 10 }, async () => {
      while (performance.now() < deadline && sent < limit) await one(performance.now());
    });
    await Promise.all(workers);
  }
  const durationMs = performance.now() - started;
  await pool.close();
  const ok = Object.entries(statuses).reduce((sum, [code, n]) => sum + (code.startsWith("2") ? n : 0), 0);
  return {
    sent,
    ok,
    non2xx: sent - ok - errors,
    errors,
    durationMs: Math.round(durationMs),
    rps: Math.round((ok * 1_000) / durationMs),
    latencyMs: percentiles(latencies),
    statuses,
  };
}

/**
 * Runs one measurement in the load generator's own process, so it does not share the
 * caller's event loop. The spec goes on its standard input: an agent turn's body is
 * larger than one command-line argument may be (128 KiB).
 */
export function loadInOwnProcess(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", fileURLToPath(import.meta.url)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    child.stdin.end(JSON.stringify(spec));
    createInterface({ input: child.stdout }).once("line", (line) => resolve(JSON.parse(line) as LoadResult));
    child.once("exit", (code) => code !== 0 && reject(new Error(`load generator exited ${code}`)));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const result = await runLoad(JSON.parse(Buffer.concat(chunks).toString("utf8")) as LoadSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
