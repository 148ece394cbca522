/** The worker's Postgres: Neon's HTTP driver, one query per round trip, under a timeout. */
import { neon, neonConfig } from "@neondatabase/serverless";
import { perConfig } from "../config/per-config.ts";

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
