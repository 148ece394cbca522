/** The Hono app: middleware order, routes, and the one place errors become responses. */
import { Hono, type Handler } from "hono";
import { auditTrail } from "./audit/trail.ts";
import type { AppEnv } from "./http/app-env.ts";
import { constitutionCheck } from "./http/constitution.ts";
import { edge } from "./http/edge.ts";
import { ApiError } from "./openai/errors.ts";
import { renderError } from "./openai/render.ts";
import { redactSecrets } from "./security/redact.ts";
import { listAudit } from "./routes/audit.ts";
import { chatCompletions } from "./routes/chat.ts";
import { health } from "./routes/health.ts";
import { listModels, retrieveModel } from "./routes/models.ts";
import { routeOnly } from "./routes/route.ts";

const ROUTES: Record<string, { method: "GET" | "POST"; handler: Handler<AppEnv> }> = {
  "/v1/chat/completions": { method: "POST", handler: chatCompletions },
  "/v1/route": { method: "POST", handler: routeOnly },
  "/v1/models": { method: "GET", handler: listModels },
  "/v1/models/:id{.+}": { method: "GET", handler: retrieveModel },
  "/v1/audit": { method: "GET", handler: listAudit },
  "/health": { method: "GET", handler: health },
};

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(edge());
  app.use(auditTrail());
  app.use(constitutionCheck());

  for (const [path, { method, handler }] of Object.entries(ROUTES)) {
    app.on(method, path, handler);
    app.all(path, function methodNotAllowed(c) {
      throw new ApiError(405, `${c.req.path} accepts ${method} only`, {
        code: "method_not_allowed",
        headers: { allow: method },
      });
    });
  }

  app.notFound(function notFound(c) {
    return renderError(new ApiError(404, `No route ${c.req.method} ${new URL(c.req.url).pathname}`, { code: "not_found" }), c);
  });
  app.onError(function onError(error, c) {
    const apiError =
      error instanceof ApiError ? error : new ApiError(500, "Internal error in the router", { code: "internal_error", cause: error });
    if (apiError.status === 500) {
      const cause = apiError.cause ?? error;
      console.error(JSON.stringify({ request_id: c.get("requestId"), error: redactSecrets(String(cause)) }));
    }
    return renderError(apiError, c);
  });
  return app;
}
