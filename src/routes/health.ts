/** GET /health: version, constitutional hash, and which providers are configured. */
import type { Context } from "hono";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { AppEnv } from "../http/app-env.ts";
import { withoutCredentials } from "../security/redact.ts";
import { VERSION } from "../version.ts";

export function health(c: Context<AppEnv>): Response {
  const { providers, registry } = c.get("config");
  const configured = [...providers.values()].filter((provider) => provider.configured);
  return c.json({
    status: configured.length > 0 ? "ok" : "unconfigured",
    version: VERSION,
    constitutional_hash: CONSTITUTIONAL_HASH,
    providers: [...providers.values()].map((provider) => ({
      id: provider.id,
      configured: provider.configured,
      base_url: withoutCredentials(provider.baseUrl),
      models: registry.filter((model) => model.provider === provider.id).length,
      ...(provider.configured ? {} : { configure_with: provider.configureWith }),
    })),
  });
}
