/**
 * An Upstash-REST endpoint in front of a real Redis, so `@upstash/redis` in the
 * worker runs unchanged locally: `POST /` (one command), `/pipeline`, `/multi-exec`,
 * the Bearer token, base64 response encoding, and EVAL/EVALSHA for scripts whose
 * shebang flags Redis 7.0 refuses.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "redis";

export type UpstashRestOptions = { redisUrl: string; token: string; port?: number; host?: string };
/** What the worker sent: HTTP requests (subrequests), and commands by name (a pipeline's each counted, as Upstash bills them). */
export type RedisTraffic = { requests: number; commands: Record<string, number> };
export type UpstashRest = { url: string; token: string; traffic(): RedisTraffic; resetTraffic(): void; close(): Promise<void> };

type Command = (string | number)[];
type Reply = { result: unknown } | { error: string };

/** Starts the endpoint; `port: 0` picks a free port. */
export async function startUpstashRest(options: UpstashRestOptions): Promise<UpstashRest> {
  const redis = createClient({
    url: options.redisUrl,
    RESP: 2, // Upstash answers flat arrays (HGETALL etc.), as RESP2 does
    disableOfflineQueue: true, // with Redis down, fail at once rather than queue
    socket: { reconnectStrategy: (retries) => Math.min(50 * (retries + 1), 1_000), connectTimeout: 2_000 },
  });
  redis.on("error", () => {}); // reconnects on its own; commands fail meanwhile
  await redis.connect().catch(() => {}); // a Redis that is down now may come up later
  const scripts = new ScriptShim();
  let traffic: RedisTraffic = { requests: 0, commands: {} };
  const counted = (command: Command): Command => {
    const name = String(command[0]).toUpperCase();
    traffic.commands[name] = (traffic.commands[name] ?? 0) + 1;
    return command;
  };

  const run = async (command: Command): Promise<Reply> => {
    try {
      return { result: await redis.sendCommand(scripts.rewrite(command.map(String))) };
    } catch (error) {
      return { error: errorText(error) };
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, { error: errorText(error) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${options.token}`) return send(res, 401, { error: "Unauthorized" });
    const body = JSON.parse(await readBody(req)) as Command | Command[];
    const base64 = req.headers["upstash-encoding"] === "base64";
    const encode = (reply: Reply): Reply => ("result" in reply && base64 ? { result: encodeBase64(reply.result) } : reply);
    if (!redis.isReady) return send(res, 503, { error: "Redis is unreachable" });
    traffic.requests += 1;
    if (req.url === "/pipeline") {
      const replies: Reply[] = [];
      for (const command of body as Command[]) replies.push(encode(await run(counted(command))));
      return send(res, 200, replies);
    }
    if (req.url === "/multi-exec") return send(res, 200, (await multiExec((body as Command[]).map(counted))).map(encode));
    const reply = await run(counted(body as Command));
    return send(res, "error" in reply ? 400 : 200, encode(reply));
  }

  async function multiExec(commands: Command[]): Promise<Reply[]> {
    const multi = redis.multi();
    for (const command of commands) multi.addCommand(scripts.rewrite(command.map(String)));
    try {
      return (await multi.exec()).map((result) => ({ result }));
    } catch (error) {
      const replies = (error as { replies?: unknown[] }).replies;
      if (!Array.isArray(replies)) return commands.map(() => ({ error: errorText(error) }));
      return replies.map((r) => (r instanceof Error ? { error: r.message } : { result: r }));
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: options.token,
    traffic: () => traffic,
    resetTraffic: () => {
      traffic = { requests: 0, commands: {} };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await redis.close().catch(() => {});
    },
  };
}

/**
 * Redis 7.0 refuses `#!lua flags=allow-key-locking` (Upstash's, which
 * @upstash/ratelimit 2.x sends). Strip the flags Redis 7.0 does not know, keep the
 * ones it does (`no-writes` above all: EVALSHA_RO needs it), and keep EVALSHA working
 * by mapping the SHA the client computed of its own script to the stored one.
 */
class ScriptShim {
  private readonly shas = new Map<string, string>();

  rewrite(command: string[]): string[] {
    const name = command[0]?.toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && command[1] !== undefined) {
      return [command[0]!, this.strip(command[1]), ...command.slice(2)];
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && command[1] !== undefined) {
      return [command[0]!, this.shas.get(command[1].toLowerCase()) ?? command[1], ...command.slice(2)];
    }
    if (name === "SCRIPT" && command[1]?.toUpperCase() === "LOAD" && command[2] !== undefined) {
      return [command[0]!, command[1], this.strip(command[2])];
    }
    return command;
  }

  private strip(script: string): string {
    const stripped = forRedis70(script);
    if (stripped !== script) this.shas.set(sha1(script), sha1(stripped));
    return stripped;
  }
}

/** The script flags Redis 7.0 knows. */
const REDIS_7_0_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);

/** Commands whose every argument is a key; any other command's key is its first argument, and these have none. */
const ALL_KEYS = new Set(["MGET", "DEL", "UNLINK", "EXISTS", "TOUCH"]);
const NO_KEYS = new Set(["TIME", "PING", "ECHO"]);

/**
 * Upstash's rule for `allow-key-locking`: the script locks only the keys in KEYS, so it
 * may touch no other. Each `redis.call` and `redis.pcall` goes through a check that
 * raises a script error for a key not in KEYS, as Upstash would refuse it.
 */
const KEY_CHECK = `
local __tg_declared = {}
for _, key in ipairs(KEYS) do __tg_declared[key] = true end
local __tg_all = {${[...ALL_KEYS].map((name) => `${name}=true`).join(", ")}}
local __tg_none = {${[...NO_KEYS].map((name) => `${name}=true`).join(", ")}}
local function __tg_check(command, ...)
  local name = string.upper(command)
  if __tg_none[name] then return end
  local args = {...}
  for i = 1, (__tg_all[name] and #args or 1) do
    if not __tg_declared[args[i]] then
      error('allow-key-locking: ' .. name .. ' touches ' .. tostring(args[i]) .. ', which is not in KEYS')
    end
  end
end
local function __tg_call(command, ...) __tg_check(command, ...) return redis.call(command, ...) end
local function __tg_pcall(command, ...) __tg_check(command, ...) return redis.pcall(command, ...) end
`;

/**
 * A script as Redis 7.0 can run it, keeping what Upstash would enforce: the flags it
 * does not know are stripped, and a script that declares `allow-key-locking` has its
 * key accesses checked against KEYS (KEY_CHECK).
 */
export function forRedis70(script: string): string {
  if (!script.startsWith("#!lua")) return script;
  const shebang = /^#!lua[^\n]*/.exec(script)![0];
  const flags = (/flags=(\S*)/.exec(shebang)?.[1] ?? "").split(",");
  const known = flags.filter((flag) => REDIS_7_0_FLAGS.has(flag));
  let body = script.slice(shebang.length);
  if (flags.includes("allow-key-locking")) body = KEY_CHECK + body.replaceAll("redis.call(", "__tg_call(").replaceAll("redis.pcall(", "__tg_pcall(");
  return `${known.length > 0 ? `#!lua flags=${known.join(",")}` : "#!lua"}${body}`;
}

const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex");

/** Upstash's base64 response encoding: every string but the literal "OK", recursively. */
function encodeBase64(value: unknown): unknown {
  if (typeof value === "string") return value === "OK" ? value : Buffer.from(value, "utf8").toString("base64");
  if (Array.isArray(value)) return value.map(encodeBase64);
  return value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
