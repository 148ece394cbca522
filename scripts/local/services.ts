/**
 * Real Redis and Postgres servers as child processes on loopback, each stoppable
 * and restartable on the same port (the fault tests stop them mid-run).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";

export type Service = {
  url: string;
  port: number;
  pids(): number[];
  stop(): Promise<void>;
  start(): Promise<void>;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once something accepts TCP connections on the port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => resolve(socket.end() !== undefined));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

type ChildOptions = {
  /** What stops it (SIGTERM unless said). */
  stopSignal?: NodeJS.Signals;
  /** How long it may take to listen (15 s unless said). */
  startupMs?: number;
};

function childService(url: string, port: number, launch: () => ChildProcess, options: ChildOptions = {}): Service {
  const { stopSignal = "SIGTERM", startupMs = 15_000 } = options;
  let child: ChildProcess | undefined;
  const service: Service = {
    url,
    port,
    pids: () => (child?.pid !== undefined && child.exitCode === null ? [child.pid] : []),
    async start() {
      child = launch();
      child.stderr?.on("data", () => {});
      // One that never listens is stopped: no one else has its pid, and it would run on after the caller gave up.
      await waitForPort(port, startupMs).catch(async (error: unknown) => {
        await service.stop();
        throw error;
      });
    },
    async stop() {
      const running = child;
      if (running === undefined || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill(stopSignal);
      await Promise.race([exited, sleep(5_000).then(() => running.kill("SIGKILL"))]);
      child = undefined;
    },
  };
  return service;
}

/**
 * A `redis-server` from PATH, durable like Upstash: every write goes to an
 * append-only file in `dir`, so a restart keeps the audit queue and counter.
 */
export async function startRedisServer(port: number, dir: string): Promise<Service> {
  mkdirSync(dir, { recursive: true });
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"];
  const service = childService(`redis://127.0.0.1:${port}`, port, () => spawn("redis-server", args, { stdio: "ignore" }));
  await service.start();
  return service;
}

/**
 * The embedded Postgres (PGlite, WASM) on the wire protocol, its data kept in `dir`
 * (pglite-server.ts), with its dump route at `dumpUrl` (on a port the system picks).
 */
export async function startPglite(dir: string, wantedPort: number): Promise<Service & { dumpUrl: string }> {
  mkdirSync(dir, { recursive: true });
  const port = wantedPort === 0 ? await freePort() : wantedPort;
  const controlPort = await freePort();
  const script = new URL("./pglite-server.ts", import.meta.url).pathname;
  const args = ["--experimental-strip-types", "--no-warnings", script, `--db=${dir}`, `--port=${port}`, `--control-port=${controlPort}`];
  // PGlite compiles its WASM Postgres, and on a first start runs initdb, before it listens: seconds alone,
  // past 15 s on a busy two-core machine, where the default wait failed test runs.
  const service = childService(`postgres://postgres@127.0.0.1:${port}/postgres`, port, () => spawn(process.execPath, args, { stdio: "ignore" }), {
    startupMs: 60_000,
  });
  await service.start();
  await waitForPort(controlPort);
  return { ...service, dumpUrl: `http://127.0.0.1:${controlPort}/dump` };
}

/**
 * A private PostgreSQL cluster from the system's binaries (Debian's postgresql).
 * As root it runs as the `postgres` user (spawned with its uid, no wrapper, so
 * signals reach the server itself): Postgres refuses to run as root.
 */
export async function startPostgresCluster(dir: string, port: number): Promise<Service> {
  const bin = postgresBin();
  const root = process.getuid?.() === 0;
  const asPostgres = root ? { uid: idOf("-u"), gid: idOf("-g") } : {};
  mkdirSync(dir, { recursive: true });
  if (root) chownSync(dir, idOf("-u"), idOf("-g"));
  if (!existsSync(`${dir}/data/PG_VERSION`)) {
    const init = spawnSync(`${bin}/initdb`, ["-D", `${dir}/data`, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], {
      stdio: "pipe",
      cwd: dir,
      ...asPostgres,
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr.toString()}`);
  }
  const args = ["-D", `${dir}/data`, "-p", String(port), "-k", dir, "-c", "fsync=off", "-c", "listen_addresses=127.0.0.1"];
  const service = childService(
    `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    () => spawn(`${bin}/postgres`, args, { stdio: "ignore", cwd: dir, ...asPostgres }),
    { stopSignal: "SIGINT" }, // Postgres's fast shutdown; SIGTERM would wait for every client to leave
  );
  await service.start();
  return service;
}

function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  return `${root}/${versions[0]}/bin`;
}

const idOf = (flag: "-u" | "-g"): number => Number(spawnSync("id", [flag, "postgres"]).stdout.toString().trim());
