/** The worker's Postgres: Neon's HTTP driver, one query per round trip, under a timeout. */
import { neon, neonConfig } from "@neondatabase/serverless";
import { ApiError } from "../http/errors.ts";
import { isOutage, isSchemaMissing, type Tracked } from "./availability.ts";

export type Row = Record<string, unknown>;
/** Runs one parameterised statement and returns its rows. */
export type Sql = (text: string, params?: readonly unknown[]) => Promise<Row[]>;

export type PostgresSettings = { url: string; httpEndpoint: string | undefined; timeoutMs: number };

/** The Postgres client for these settings. */
export function createSql(settings: PostgresSettings): Sql {
  const { url, httpEndpoint, timeoutMs } = settings;
  // Neon's driver reads its HTTP endpoint from its global config only (no per-client option),
  // so two configs with different endpoints in one process would share the last one set.
  // It is set only to reach the local stand-in, and only here, where the client is built.
  if (httpEndpoint !== undefined) neonConfig.fetchEndpoint = httpEndpoint;
  const sql = neon(url);
  return (text, params = []) => sql.query(text, [...params], { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } }) as Promise<Row[]>;
}

/**
 * `sql` for a route's own statements: tracked, and a Postgres outage thrown as the
 * route's `unavailable` error (its 503); an error Postgres answered with is thrown as it is.
 */
export function routeSql(sql: Sql, tracked: Tracked, unavailable: (cause: unknown) => Error): Sql {
  return (text, params) =>
    tracked("postgres", () => sql(text, params)).catch((error: unknown) => {
      if (isSchemaMissing(error)) throw schemaMissing(error);
      throw isOutage(error) ? unavailable(error) : error;
    });
}

/** The refusal of a route whose statement met a database without the router's schema; the detail goes to the log, not the client. */
function schemaMissing(cause: unknown): ApiError {
  return new ApiError(503, "The router's database is missing its tables or its search_path was changed; an operator must run npm run migrate", {
    code: "database_schema_missing",
    cause,
  });
}
