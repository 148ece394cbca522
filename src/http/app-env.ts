/** The one Hono environment type of the whole app. */
import type { AuditDraft } from "../audit/trail.ts";
import type { Bindings, Config } from "../config/env.ts";

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    config: Config;
    audit: AuditDraft;
  };
};
