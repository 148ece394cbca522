/**
 * The local Neon stand-in survives PostgreSQL stopping under a client it has lent out: the
 * backend's "terminating connection" reaches that client between statements, where the pool
 * does not listen. Unheard, it was an uncaught exception in the test process (seen in a CI run
 * of responses-store-faults.test.ts, which stops PostgreSQL mid-suite).
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { borrow } from "../../scripts/local/neon-endpoint.ts";
import { SYSTEM_POSTGRES } from "../support/storage.ts";

const pool = new pg.Pool({ connectionString: SYSTEM_POSTGRES, max: 2 });
pool.on("error", () => {});
const admin = new pg.Client({ connectionString: SYSTEM_POSTGRES });
afterAll(async () => {
  await pool.end();
  await admin.end();
});

describe("a client lent out when its backend is terminated", () => {
  it("hears the error, is dropped when given back, and the pool serves on", async () => {
    await admin.connect();
    const { client, giveBack } = await borrow(pool);
    const pid = Number((await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
    // No statement of its own running: the FATAL notice arrives as the client's `error` event, which nothing else here hears.
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    giveBack();
    // Dropped, not put back broken: the borrow heard the error.
    expect(pool.totalCount).toBe(0);
    expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
  });
});
