/** The Hono app: middleware order, routes, and the one place errors become responses. */
import { Hono, type Handler } from "hono";
import { configFor } from "./config/env.ts";
import type { AppEnv } from "./http/app-env.ts";
import { constitution } from "./http/constitution.ts";
import { ApiError } from "./openai/errors.ts";
import { redactSecrets } from "./security/redact.ts";
import { chatCompletions } from "./routes/chat.ts";
import { health } from "./routes/health.ts";
import { listModels } from "./routes/models.ts";
import { routeOnly } from "./routes/route.ts";

const ROUTES: Record<string, { method: "GET" | "POST"; handler: Handler<AppEnv> }> = {
  "/v1/chat/completions": { method: "POST", handler: chatCompletions },
  "/v1/route": { method: "POST", handler: routeOnly },
  "/v1/models": { method: "GET", handler: listModels },
  "/health": { method: "GET", handler: health },
};

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(constitution());
  app.use(async function loadConfig(c, next) {
    try {
      c.set("config", configFor(c.env));
    } catch (error) {
      throw new ApiError(500, `The router is misconfigured: ${describe(error)}`, { code: "misconfigured", cause: error });
    }
    await next();
  });

  for (const [path, { method, handler }] of Object.entries(ROUTES)) {
    app.on(method, path, handler);
    app.all(path, function methodNotAllowed() {
      throw new ApiError(405, `${path} accepts ${method} only`, {
        code: "method_not_allowed",
        headers: { allow: method },
      });
    });
  }

  app.notFound(function notFound(c) {
    const error = new ApiError(404, `No route ${c.req.method} ${new URL(c.req.url).pathname}`, { code: "not_found" });
    return c.json(error.toBody(), error.status, error.headers);
  });
  app.onError(function renderError(error, c) {
    const apiError =
      error instanceof ApiError ? error : new ApiError(500, "Internal error in the router", { code: "internal_error", cause: error });
    if (apiError.status === 500) {
      const cause = apiError.cause ?? error;
      console.error(JSON.stringify({ request_id: c.get("requestId"), error: redactSecrets(String(cause)) }));
    }
    return c.json(apiError.toBody(), apiError.status, apiError.headers);
  });
  return app;
}

function describe(error: unknown): string {
  if (error && typeof error === "object" && "issues" in error && Array.isArray(error.issues)) {
    return error.issues.map((issue: { path: PropertyKey[]; message: string }) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}
