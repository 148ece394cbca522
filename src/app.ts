/** The Hono app: middleware order, routes and their guards, and the one place errors become responses. */
import type { Handler, MiddlewareHandler } from "hono";
// hono/tiny: the PatternRouter, 2.4 KiB gzipped smaller than the default SmartRouter (RegExpRouter and TrieRouter), which the
// bundle budget needs; it matches this app's few dozen routes in a few microseconds a request.
import { Hono } from "hono/tiny";
import type { Bindings } from "./config/env.ts";
import type { OutcomeVariables } from "./engine/outcome.ts";
import { ApiError, asApiError } from "./http/errors.ts";
import { adminOnly } from "./middleware/admin.ts";
import { apiKeyAuth, type KeyVariables } from "./middleware/api-keys.ts";
import { type AuditTrailOptions, auditTrail } from "./middleware/audit-trail.ts";
import { constitutionCheck } from "./middleware/constitution.ts";
import { corsPolicy } from "./middleware/cors.ts";
import { type EdgeVariables, edge } from "./middleware/edge.ts";
import { renderError } from "./middleware/render-error.ts";
import {
  createKeyRoute,
  createTenantRoute,
  listKeysRoute,
  listTenantsRoute,
  revokeKeyRoute,
  revokeTenantRoute,
  showKeyRoute,
  showTenantRoute,
} from "./routes/admin-keys.ts";
import { changeTenantRoute, deleteProviderKeyRoute, listProviderKeysRoute, putProviderKeyRoute, showProviderKeyRoute } from "./routes/admin-provider-keys.ts";
import { auditRuns, auditSummary, listAudit } from "./routes/audit.ts";
import { chatCompletions, messages, responses } from "./routes/chat.ts";
import { countTokens } from "./routes/count-tokens.ts";
import { dashboardAsset, dashboardData, dashboardPage } from "./routes/dashboard.ts";
import { embeddings } from "./routes/embeddings.ts";
import { feedback } from "./routes/feedback.ts";
import { health } from "./routes/health.ts";
import { metrics } from "./routes/metrics.ts";
import { listModels, retrieveModel } from "./routes/models.ts";
import { deleteResponse, listInputItems, retrieveResponse } from "./routes/responses.ts";
import { routeOnly } from "./routes/route.ts";
import { usage } from "./routes/usage.ts";
import { redactSecrets } from "./security/redact.ts";

/** The app's environment, composed from what each middleware sets. */
export type AppEnv = { Bindings: Bindings; Variables: EdgeVariables & KeyVariables & OutcomeVariables };

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The keyed routes whose handler awaits the requests check itself (routes/chat.ts, through the engine). */
const CHAT_ROUTE = "/v1/chat/completions";
const MESSAGES_ROUTE = "/v1/messages";
const RESPONSES_ROUTE = "/v1/responses";
const EMBEDDINGS_ROUTE = "/v1/embeddings";
const GENERATION_ROUTES = [CHAT_ROUTE, MESSAGES_ROUTE, RESPONSES_ROUTE, EMBEDDINGS_ROUTE];

// Each handler is typed with the variables it reads; all of them are AppEnv's.
const ROUTES: Record<string, Partial<Record<Method, Handler<AppEnv>>>> = {
  [CHAT_ROUTE]: { POST: chatCompletions },
  [MESSAGES_ROUTE]: { POST: messages },
  [RESPONSES_ROUTE]: { POST: responses },
  [EMBEDDINGS_ROUTE]: { POST: embeddings },
  "/v1/responses/:id": { GET: retrieveResponse, DELETE: deleteResponse },
  "/v1/responses/:id/input_items": { GET: listInputItems },
  "/v1/messages/count_tokens": { POST: countTokens },
  "/v1/route": { POST: routeOnly },
  "/v1/feedback": { POST: feedback },
  "/v1/models": { GET: listModels },
  "/v1/models/:id{.+}": { GET: retrieveModel },
  "/v1/audit": { GET: listAudit },
  "/v1/audit/summary": { GET: auditSummary },
  "/v1/audit/runs": { GET: auditRuns },
  "/v1/usage": { GET: usage },
  "/v1/admin/keys": { GET: listKeysRoute, POST: createKeyRoute },
  "/v1/admin/keys/:id": { GET: showKeyRoute, DELETE: revokeKeyRoute },
  "/v1/admin/tenants": { GET: listTenantsRoute, POST: createTenantRoute },
  "/v1/admin/tenants/:id": { GET: showTenantRoute, PATCH: changeTenantRoute, DELETE: revokeTenantRoute },
  "/v1/admin/tenants/:id/providers": { GET: listProviderKeysRoute },
  "/v1/admin/tenants/:id/providers/:provider": { GET: showProviderKeyRoute, PUT: putProviderKeyRoute, DELETE: deleteProviderKeyRoute },
  "/health": { GET: health },
  "/metrics": { GET: metrics },
  "/dashboard": { GET: dashboardPage },
  "/dashboard/data": { GET: dashboardData },
  "/dashboard/:asset": { GET: dashboardAsset },
};

/** Health probes, metric scrapes and the dashboard's polls come every few seconds from machines: not requests a tenant makes, so not audited. */
const UNAUDITED: AuditTrailOptions["unaudited"] = ["/health", "/metrics", "/dashboard"];

/** The routes a client key opens (and, once keys exist, the only way in). */
const KEYED_ROUTES = [
  ...GENERATION_ROUTES,
  "/v1/messages/count_tokens",
  "/v1/responses/:id",
  "/v1/responses/:id/input_items",
  "/v1/route",
  "/v1/usage",
  "/v1/feedback",
];

/** The routes for the admin key alone (guarded for the methods they serve: a wrong method is still a 405). */
const ADMIN_ROUTES = new Set([
  "/v1/audit",
  "/v1/audit/summary",
  "/v1/audit/runs",
  "/v1/admin/keys",
  "/v1/admin/keys/:id",
  "/v1/admin/tenants",
  "/v1/admin/tenants/:id",
  "/v1/admin/tenants/:id/providers",
  "/v1/admin/tenants/:id/providers/:provider",
  "/dashboard/data",
]);

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(edge());
  app.use(corsPolicy());
  app.use(auditTrail({ unaudited: UNAUDITED }));
  app.use(constitutionCheck());
  for (const path of KEYED_ROUTES)
    app.use(path, apiKeyAuth({ handlerAwaitsAdmission: GENERATION_ROUTES.includes(path), xApiKey: path.startsWith(MESSAGES_ROUTE) }));
  const admin = adminOnly();
  const guards: Record<string, MiddlewareHandler<AppEnv>[]> = { "/metrics": [adminOnly({ orToken: (config) => config.metricsToken })] };
  for (const path of ADMIN_ROUTES) guards[path] = [admin];

  for (const [path, handlers] of Object.entries(ROUTES)) {
    for (const [method, handler] of Object.entries(handlers)) {
      for (const guard of guards[path] ?? []) app.on(method, path, guard);
      app.on(method, path, handler);
    }
    const allow = Object.keys(handlers).join(", ");
    app.all(path, function methodNotAllowed(c) {
      throw new ApiError(405, `${c.req.path} accepts ${allow} only`, { code: "method_not_allowed", headers: { allow } });
    });
  }

  app.notFound(function notFound(c) {
    throw new ApiError(404, `No route ${c.req.method} ${new URL(c.req.url).pathname}`, { code: "not_found" });
  });
  app.onError(function onError(error, c) {
    const apiError = asApiError(error);
    if (apiError.status === 500) {
      const cause = apiError.cause ?? error;
      console.error(JSON.stringify({ request_id: c.get("requestId"), error: redactSecrets(String(cause), c.get("config")?.secrets) }));
    }
    return renderError(apiError, c);
  });
  return app;
}
