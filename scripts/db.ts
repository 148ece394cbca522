/** Postgres for Node scripts through Neon's own driver (WebSocket `Pool`), locally through the relay. */
import { Pool, neonConfig } from "@neondatabase/serverless";
import { WebSocket } from "ws";

/**
 * A Pool for `DATABASE_URL`. With `NEON_WS_PROXY` (the local relay) it goes through
 * the relay without TLS; without it, straight to Neon's secure WebSocket endpoint.
 */
export function openPool(databaseUrl: string, wsProxy = process.env.NEON_WS_PROXY): Pool {
  neonConfig.webSocketConstructor = WebSocket as unknown as typeof neonConfig.webSocketConstructor;
  if (wsProxy) {
    neonConfig.wsProxy = () => wsProxy;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
  return new Pool({ connectionString: databaseUrl, max: 4 });
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (npm run stack prints the local values)`);
    process.exit(2);
  }
  return value;
}
