/**
 * The servers the integration tests talk to, Redis (REDIS_URL) and PostgreSQL
 * (TEST_POSTGRES_URL), checked before vitest starts: a test file that cannot reach them
 * would otherwise fail after its 30 s hook time-out with no hint. A server of this
 * machine's own (loopback, its usual port) that is down is started, as root, with the
 * command the machine's own start uses (and .ci/run's); anything else stops `npm test`
 * at once with one line naming what to run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { connect } from "node:net";

export type Server = { name: string; variable: string; url: string; defaultPort: number };

export const SERVERS: Server[] = [
  { name: "Redis", variable: "REDIS_URL", url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", defaultPort: 6379 },
  {
    name: "PostgreSQL",
    variable: "TEST_POSTGRES_URL",
    url: process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    defaultPort: 5432,
  },
];

/** The command that starts this machine's own server of that kind, or undefined when it is not the machine's (another host or port). */
export function startCommand(server: Server, postgresVersions: string[]): string[] | undefined {
  const { hostname, port } = new URL(server.url);
  const local = hostname === "127.0.0.1" || hostname === "localhost";
  if (!local || Number(port || server.defaultPort) !== server.defaultPort) return undefined;
  if (server.name === "Redis") {
    // The machine's own start command (machines/node-svc.md): it keeps nothing on disk.
    return [
      "redis-server",
      "--daemonize",
      "yes",
      "--bind",
      "127.0.0.1",
      "-::1",
      "--port",
      "6379",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      "/var/lib/redis",
      "--logfile",
      "/var/log/redis/ci.log",
    ];
  }
  const version = postgresVersions.sort().at(-1);
  return version === undefined ? undefined : ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"];
}

function answers(url: string, defaultPort: number, timeoutMs = 1_000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port || defaultPort), hostname);
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function waitFor(server: Server, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers(server.url, server.defaultPort)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** Every server answering, or started; else one line naming the command, and exit 1. */
export async function ensureServers(): Promise<void> {
  const versions = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql") : [];
  for (const server of SERVERS) {
    if (await answers(server.url, server.defaultPort)) continue;
    const command = startCommand(server, versions);
    const root = process.getuid?.() === 0;
    if (command !== undefined && root) {
      console.error(`npm test: ${server.name} is not answering at ${server.url}: starting it (${command.join(" ")})`);
      try {
        execFileSync(command[0]!, command.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
      } catch {
        // Whatever it said is above; the wait below decides.
      }
      if (await waitFor(server)) continue;
    }
    const how = command === undefined ? `start it, or set ${server.variable} to one that answers` : `start it with: ${root ? "" : "sudo "}${command.join(" ")}`;
    console.error(`npm test: the integration tests need ${server.name} at ${server.url}, which is not answering; ${how}`);
    process.exit(1);
  }
}
