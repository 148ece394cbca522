/** The one Hono environment type of the whole app. */
import type { AuditDraft } from "../audit/trail.ts";
import type { Bindings, Config } from "../config/env.ts";
import type { AfterContext } from "../pipeline/after-response.ts";
import type { Caller } from "../security/api-keys.ts";

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    config: Config;
    audit: AuditDraft;
    /** What the after-response batch sends besides the record: the cache write, stream timing. */
    after: AfterContext;
    /** The client key behind the request, when it sent one. */
    caller?: Caller;
  };
};
