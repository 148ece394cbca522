/** The one Hono environment type of the whole app. */
import type { AuditDraft } from "../audit/trail.ts";
import type { Bindings, Config } from "../config/env.ts";
import type { Caller } from "../security/api-keys.ts";

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    config: Config;
    audit: AuditDraft;
    /** The client key behind the request, when it sent one. */
    caller?: Caller;
  };
};
