/**
 * The stored responses of the Responses API, in the caller's scope (another tenant's id
 * is not found, and says nothing of whether it exists): GET /v1/responses/{id}, its
 * input items (GET /v1/responses/{id}/input_items), and DELETE /v1/responses/{id}.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import type { KeyVariables } from "../middleware/api-keys.ts";
import type { With } from "../middleware/edge.ts";
import { routeSql } from "../storage/postgres.ts";
import { cachedResponseStore } from "../surfaces/openai-responses/cached-store.ts";
import { couldNameStored } from "../surfaces/openai-responses/storable.ts";
import { createResponseStore, type ResponseStore, responseScope, type StoredResponse } from "../surfaces/openai-responses/store.ts";

type ResponsesContext = Context<With<KeyVariables>>;

export async function retrieveResponse(c: ResponsesContext): Promise<Response> {
  return c.json((await found(c)).response);
}

export async function listInputItems(c: ResponsesContext): Promise<Response> {
  const { inputItems } = await found(c);
  const data = c.req.query("order") === "asc" ? inputItems : [...inputItems].reverse();
  return c.json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
}

export async function deleteResponse(c: ResponsesContext): Promise<Response> {
  const id = c.req.param("id") ?? "";
  if (!couldNameStored(id) || !(await store(c).remove(id))) throw notFound(id);
  return c.json({ id, object: "response", deleted: true });
}

async function found(c: ResponsesContext): Promise<StoredResponse> {
  const id = c.req.param("id") ?? "";
  const stored = couldNameStored(id) ? await store(c).load(id) : undefined;
  if (stored === undefined) throw notFound(id);
  return stored;
}

function store(c: ResponsesContext): ResponseStore {
  c.header("cache-control", "no-store");
  const found = responseStoreFor(c);
  if (found === undefined) throw new ApiError(503, "Stored responses live in Postgres: set DATABASE_URL", { code: "responses_not_configured" });
  return found;
}

/**
 * The stored responses of the caller's scope, when the router has a database: the
 * isolate's and Redis's copies in front of Postgres (cached-store.ts); an outage is a 503.
 */
export function responseStoreFor(c: Context<With<KeyVariables>>): ResponseStore | undefined {
  const services = c.get("services");
  const { sql, stores, config } = services;
  if (sql === undefined) return undefined;
  const unavailable = (cause: unknown) =>
    new ApiError(503, "Stored responses cannot be reached right now; try again shortly", { code: "responses_unavailable", cause });
  const scope = responseScope(c.get("caller"));
  const retentionDays = config.responsesRetentionDays;
  return cachedResponseStore(createResponseStore(routeSql(sql, stores.tracked, unavailable), scope, retentionDays), services.responseCopies, {
    scope,
    retentionDays,
    defer: (work) => c.executionCtx.waitUntil(work.catch(() => {})),
    log: (message) => console.error(JSON.stringify({ request_id: c.get("requestId"), error: message })),
    unavailable,
  });
}

const notFound = (id: string): ApiError => new ApiError(404, `No response with id '${id}'`, { code: "not_found", param: "response_id" });
