/** The worker's Postgres: Neon's HTTP driver, one query per round trip, under a timeout. */
import { neon, neonConfig } from "@neondatabase/serverless";
import { perConfig } from "../config/per-config.ts";
import { isOutage, tracked } from "./availability.ts";

export type Row = Record<string, unknown>;
/** Runs one parameterised statement and returns its rows. */
export type Sql = (text: string, params?: readonly unknown[]) => Promise<Row[]>;

/** The Postgres client for this config, or `undefined` when DATABASE_URL is not set. */
export const postgresFor = perConfig((config): Sql | undefined => {
  if (config.postgres === undefined) return undefined;
  const { url, httpEndpoint, timeoutMs } = config.postgres;
  if (httpEndpoint !== undefined) neonConfig.fetchEndpoint = httpEndpoint;
  const sql = neon(url);
  return (text, params = []) => sql.query(text, [...params], { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } }) as Promise<Row[]>;
});

/**
 * `sql` for a route's own statements: tracked, and a Postgres outage thrown as the
 * route's `unavailable` error (its 503); an error Postgres answered with is thrown as it is.
 */
export function routeSql(sql: Sql, unavailable: (cause: unknown) => Error): Sql {
  return (text, params) =>
    tracked("postgres", () => sql(text, params)).catch((error: unknown) => {
      throw isOutage(error) ? unavailable(error) : error;
    });
}
