/** The first thing every request crosses: request id, response headers every answer carries, config and services. */
import type { MiddlewareHandler } from "hono";
import { CONSTITUTIONAL_HASH, CONSTITUTIONAL_HASH_HEADER } from "../config/constitution.ts";
import type { Bindings, Config } from "../config/env.ts";
import { ApiError } from "../http/errors.ts";
import { type ServicesVariables, servicesFor } from "../services/index.ts";
import { setResponseHeaders } from "./response-headers.ts";

/** What the edge sets for everything after it. */
export type EdgeVariables = ServicesVariables & { requestId: string; config: Config };

/**
 * A Hono environment: the worker's bindings, and the variables of the middlewares a
 * handler runs behind (the edge's always). Each middleware exports its own variables.
 * @example Context<With<KeyVariables>>
 */
export type With<V extends object = object> = { Bindings: Bindings; Variables: EdgeVariables & V };

/** On every answer: HTTPS only, no sniffing, no referrer, never framed; the API serves no HTML, so nothing may load. */
const SECURITY_HEADERS: readonly [string, string][] = [
  ["strict-transport-security", "max-age=31536000; includeSubDomains"],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["x-frame-options", "DENY"],
  ["content-security-policy", "default-src 'none'; frame-ancestors 'none'"],
];

export function edge(): MiddlewareHandler<With> {
  return async function edgeMiddleware(c, next) {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.header(CONSTITUTIONAL_HASH_HEADER, CONSTITUTIONAL_HASH);
    c.header("x-request-id", requestId);
    for (const [name, value] of SECURITY_HEADERS) c.header(name, value);
    try {
      const services = servicesFor(c.env);
      c.set("services", services);
      c.set("config", services.config);
    } catch (error) {
      throw new ApiError(500, `The router is misconfigured: ${describe(error)}`, { code: "misconfigured", cause: error });
    }
    await next();
    const { config, stores } = c.get("services");
    const degraded = (["redis", "postgres"] as const).filter((store) => config[store] === undefined || stores.seemsDown(store));
    if (degraded.length > 0) setResponseHeaders(c, { "x-tiergate-degraded": degraded.join(",") });
  };
}

function describe(error: unknown): string {
  if (error && typeof error === "object" && "issues" in error && Array.isArray(error.issues)) {
    return error.issues.map((issue: { path: PropertyKey[]; message: string }) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}
