/** The worker's Postgres: Neon's HTTP driver, one query per round trip, under a timeout. */
import { neon, neonConfig } from "@neondatabase/serverless";
import type { Config } from "../config/env.ts";

export type Row = Record<string, unknown>;
/** Runs one parameterised statement and returns its rows. */
export type Sql = (text: string, params?: readonly unknown[]) => Promise<Row[]>;

const clients = new WeakMap<Config, Sql>();

/** The Postgres client for this config, or `undefined` when DATABASE_URL is not set. */
export function postgresFor(config: Config): Sql | undefined {
  if (config.postgres === undefined) return undefined;
  let client = clients.get(config);
  if (client === undefined) {
    const { url, httpEndpoint, timeoutMs } = config.postgres;
    if (httpEndpoint !== undefined) neonConfig.fetchEndpoint = httpEndpoint;
    const sql = neon(url);
    client = (text, params = []) =>
      sql.query(text, [...params], { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } }) as Promise<Row[]>;
    clients.set(config, client);
  }
  return client;
}
