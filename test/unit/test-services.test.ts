/** Which servers `npm test` may start itself: this machine's own, at their usual ports, and nothing else. */
import { describe, expect, it } from "vitest";
import { type Server, startCommand } from "../../scripts/test-services.ts";

const redis = (url: string): Server => ({ name: "Redis", variable: "REDIS_URL", url, defaultPort: 6379 });
const postgres = (url: string): Server => ({ name: "PostgreSQL", variable: "TEST_POSTGRES_URL", url, defaultPort: 5432 });

describe("startCommand", () => {
  it("starts this machine's Redis and its newest PostgreSQL cluster as the machine does", () => {
    expect(startCommand(redis("redis://127.0.0.1:6379"), [])?.slice(0, 3)).toEqual(["redis-server", "--daemonize", "yes"]);
    expect(startCommand(postgres("postgres://postgres@127.0.0.1:5432/postgres"), ["15"])).toEqual([
      "pg_ctlcluster",
      "--skip-systemctl-redirect",
      "15",
      "main",
      "start",
    ]);
    expect(startCommand(postgres("postgres://postgres@localhost/postgres"), ["15", "17"])?.[2]).toBe("17");
  });

  it("starts nothing it does not own: another host or port, or no cluster installed", () => {
    expect(startCommand(redis("redis://10.1.2.3:6379"), [])).toBeUndefined();
    expect(startCommand(redis("redis://127.0.0.1:6390"), [])).toBeUndefined();
    expect(startCommand(postgres("postgres://postgres@127.0.0.1:5432/postgres"), [])).toBeUndefined();
  });
});
