/** The worker's Redis: Upstash over HTTP, one client per isolate's services, every command under a timeout. */
import { Redis } from "@upstash/redis/cloudflare";

export type RedisSettings = { url: string; token: string; timeoutMs: number };

/**
 * No retries: a slow or absent Redis must cost a request at most `REDIS_TIMEOUT_MS`,
 * after which each caller falls back as its own failure policy says.
 */
export function createRedis(settings: RedisSettings): Redis {
  const { url, token, timeoutMs } = settings;
  return new Redis({
    url,
    token,
    retry: false,
    automaticDeserialization: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
}

export type Concern = "cache" | "audit" | "key" | "limit" | "spend" | "health" | "metrics" | "session" | "response";

/** Every Redis key of one concern, under the deployment's prefix. */
export function redisKey(config: { keyPrefix: string }, concern: Concern, name: string): string {
  return `${config.keyPrefix}:${concern}:${name}`;
}

/** A hash's fields as HGETALL gave them: flat pairs without deserialisation, an object with it. */
export function hashEntries(result: unknown): [string, unknown][] {
  if (Array.isArray(result)) {
    const pairs: [string, unknown][] = [];
    for (let i = 0; i + 1 < result.length; i += 2) pairs.push([String(result[i]), result[i + 1]]);
    return pairs;
  }
  return result !== null && typeof result === "object" ? Object.entries(result) : [];
}

/** A hash of numbers (counters, times) as HGETALL gave it. */
export function numericHash(result: unknown): Map<string, number> {
  return new Map(hashEntries(result).map(([key, value]) => [key, Number(value)]));
}
