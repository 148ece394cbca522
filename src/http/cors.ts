/**
 * CORS: off unless `CORS_ORIGINS` lists origins (comma-separated, exact match). Then
 * those origins, and only those, get CORS headers, and their preflights are answered
 * (204) before anything else runs; other origins get none and browsers refuse them.
 */
import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import { perConfig } from "../config/per-config.ts";
import type { AppEnv } from "./app-env.ts";

const handlerFor = perConfig((config) =>
  honoCors({
    origin: (origin) => (config.corsOrigins.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["authorization", "content-type", "cache-control", "x-constitutional-hash", "x-tiergate-cache-ttl"],
    exposeHeaders: [
      "x-request-id",
      "x-constitutional-hash",
      "x-tiergate-tier",
      "x-tiergate-model",
      "x-tiergate-provider",
      "x-tiergate-cache",
      "x-tiergate-cost-usd",
      "x-ratelimit-limit-requests",
      "x-ratelimit-remaining-requests",
      "x-ratelimit-reset-requests",
      "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-tokens",
      "retry-after",
    ],
    maxAge: 600,
  }),
);

export function corsPolicy(): MiddlewareHandler<AppEnv> {
  return async function corsPolicyMiddleware(c, next) {
    const config = c.get("config");
    if (config.corsOrigins.length === 0) return next();
    return handlerFor(config)(c, next);
  };
}
