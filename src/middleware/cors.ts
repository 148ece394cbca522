/**
 * CORS: off unless `CORS_ORIGINS` lists origins (comma-separated, exact match). Then
 * those origins, and only those, get CORS headers, and their preflights are answered
 * (204) before anything else runs; other origins get none and browsers refuse them.
 */
import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import type { Config } from "../config/env.ts";
import type { With } from "./edge.ts";

const handlerFor = (config: Config): MiddlewareHandler =>
  honoCors({
    origin: (origin) => (config.corsOrigins.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: [
      "authorization",
      "x-api-key",
      "anthropic-version",
      "anthropic-beta",
      "content-type",
      "cache-control",
      "x-constitutional-hash",
      "x-tiergate-cache-ttl",
      "x-session-id",
    ],
    exposeHeaders: [
      "x-request-id",
      "x-constitutional-hash",
      "x-tiergate-tier",
      "x-tiergate-model",
      "x-tiergate-provider",
      "x-tiergate-cache",
      "x-tiergate-cost-usd",
      "x-tiergate-session",
      "x-tiergate-affinity",
      "x-ratelimit-limit-requests",
      "x-ratelimit-remaining-requests",
      "x-ratelimit-reset-requests",
      "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-tokens",
      "retry-after",
    ],
    maxAge: 600,
  });

export function corsPolicy(): MiddlewareHandler<With> {
  /** Hono's handler for each config's origins, made on its first request. */
  const handlers = new WeakMap<Config, MiddlewareHandler>();
  return async function corsPolicyMiddleware(c, next) {
    const config = c.get("config");
    if (config.corsOrigins.length === 0) return next();
    let handler = handlers.get(config);
    if (handler === undefined) {
      handler = handlerFor(config);
      handlers.set(config, handler);
    }
    return handler(c, next);
  };
}
