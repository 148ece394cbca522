/**
 * Who is calling: the client's API key (`Authorization: Bearer tg_live_…`), found in
 * the key directory by its SHA-256, then counted against the key's requests per
 * minute. Sets `caller`, and the request limit's headers on the answer. A refused key
 * counts against its address's failed checks (security/failed-checks.ts).
 */
import type { MiddlewareHandler } from "hono";
import type { OutcomeVariables } from "../engine/outcome.ts";
import { ApiError } from "../http/errors.ts";
import { ADMIN_CALLER, type Caller } from "../security/caller.ts";
import { clientAddress } from "../security/failed-checks.ts";
import { KEY_PATTERN } from "../security/key-store.ts";
import { type LimitOutcome, limitHeaders } from "../security/limits.ts";
import type { Services } from "../services/index.ts";
import { createJoint, type Joint } from "../storage/joint.ts";
import type { With } from "./edge.ts";
import { setResponseHeaders } from "./response-headers.ts";

export type KeyVariables = {
  /** The client key behind the request, when it sent one. */
  caller?: Caller;
  /** The requests-per-minute check, for the audit's note when it went unchecked. */
  requestLimit?: LimitOutcome;
  /**
   * The requests-per-minute check in flight, on the routes that wait for it themselves
   * (chat completions: beside the cache read and the reservation, one round trip instead
   * of three). It rejects with the 429 when the key is over its limit.
   */
  admission?: Promise<void>;
  /** On those routes, the request's calls to Redis held to go out as one (storage/joint.ts); the engine's gate sends them. */
  joint?: Joint;
};

/**
 * Checks the key on the routes that spend money, then counts the request against the
 * key's requests per minute. Every answer to a key with limits carries both sets of
 * rate-limit headers, as the next request will find them: the requests limit as just
 * counted, the tokens bucket as the request's debit left it (given back, for an answer
 * that will not be charged), or as it stands (a peek, sent beside the requests check)
 * for a route that debits nothing.
 */
export function apiKeyAuth(
  options: {
    /** The route's handler awaits `admission` itself, beside its own store calls (chat completions). */
    handlerAwaitsAdmission?: boolean;
    /** The key may come as `x-api-key`, as Anthropic's SDKs send it (the Messages routes). */
    xApiKey?: boolean;
  } = {},
): MiddlewareHandler<With<KeyVariables & OutcomeVariables>> {
  return async function apiKeyAuthMiddleware(c, next) {
    const services = c.get("services");
    const address = clientAddress(c.req.header("cf-connecting-ip"));
    // Anthropic's SDKs send the key as `x-api-key` (their surface alone takes it); Claude Code's ANTHROPIC_AUTH_TOKEN, as a bearer token.
    const presented = c.req.header("authorization") ?? (options.xApiKey === true ? bearer(c.req.header("x-api-key")) : undefined);
    const joint = options.handlerAwaitsAdmission === true && services.redis !== undefined ? createJoint(services.redis) : undefined;
    const caller = await identify(services, presented, address, joint).catch(async (error: unknown) => {
      joint?.send();
      if (error instanceof ApiError && error.status === 401) await services.failedChecks.failed(address);
      throw error;
    });
    // No key, no calls held: nothing to send.
    if (caller === undefined) return next();
    c.set("caller", caller);
    const setHeaders = (kind: "requests" | "tokens", outcome: LimitOutcome | undefined): void => {
      setResponseHeaders(c, limitHeaders(kind, outcome));
    };
    const defer = (work: Promise<unknown>): void => c.executionCtx.waitUntil(work.catch(() => {}));
    const counted = services.limiter.requests(caller, defer, joint).then((limit) => {
      if (limit !== undefined) c.set("requestLimit", limit);
      setHeaders("requests", limit);
    });
    if (options.handlerAwaitsAdmission === true) {
      counted.catch(() => {}); // the handler awaits it; a body it refuses before that is answered 400
      c.set("admission", counted);
      if (joint !== undefined) c.set("joint", joint);
      try {
        await next();
      } finally {
        // A route that ended before its gate (a body it refused) sends what its key's calls hold.
        joint?.send();
        await counted.catch(() => {});
      }
      if (!c.res.headers.has("x-ratelimit-limit-tokens"))
        setHeaders("tokens", c.get("outcome")?.settlement?.tokenLimit ?? (await services.allowances.peekTokens(caller)));
      return;
    }
    // Nothing on these routes debits tokens: the bucket's state is read beside the requests check.
    const [requests, tokens] = await Promise.allSettled([counted, services.allowances.peekTokens(caller)]);
    setHeaders("tokens", tokens.status === "fulfilled" ? tokens.value : undefined);
    if (requests.status === "rejected") throw requests.reason;
    await next();
  };
}

async function identify(
  services: Pick<Services, "keys" | "adminKey" | "failedChecks">,
  header: string | undefined,
  address: string,
  joint: Joint | undefined,
): Promise<Caller | undefined> {
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  const required = await services.keys.keysRequired();
  if (token === undefined) {
    if (!required) return undefined;
    throw refused(header === undefined ? "missing" : "malformed", "Send your key as Authorization: Bearer <key>");
  }
  const hash = await services.keys.hashOf(token);
  if (await services.adminKey.isAdminHash(hash)) {
    services.keys.found(token, hash);
    return ADMIN_CALLER;
  }
  if (!KEY_PATTERN.test(token)) {
    // Not one of ours: a client's placeholder key passes while keys are optional.
    if (!required) return undefined;
    throw refused("malformed", "The API key is not a tiergate key (tg_live_…)");
  }
  const found = await services.keys.lookup(hash, services.failedChecks.blockedUntil(address), joint);
  if ("unknown" in found) throw refused("unknown", "Incorrect API key provided");
  if (found.revoked) throw refused("revoked", "This API key has been revoked");
  if (found.expiresAt !== null && Date.parse(found.expiresAt) <= Date.now()) throw refused("expired", "This API key has expired");
  services.keys.found(token, hash);
  const { expiresAt: _expires, revoked: _revoked, ...caller } = found;
  return { ...caller, admin: false };
}

function refused(reason: "missing" | "malformed" | "unknown" | "revoked" | "expired", message: string): ApiError {
  return new ApiError(401, `${message}. You can make a key with npm run keys -- create, or POST /v1/admin/keys.`, {
    code: "invalid_api_key",
    auditCode: `invalid_api_key:${reason}`,
  });
}

const bearer = (key: string | undefined): string | undefined => (key === undefined ? undefined : `Bearer ${key}`);
