/**
 * A Postgres wire-protocol client that sends exactly the messages it is given, for what
 * no driver does on purpose: leaving in the middle of an extended-protocol exchange.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";

export type WireClient = {
  /** Sends the messages and waits for a backend message of type `until` (e.g. "C", "E", "Z"). */
  send(messages: Buffer[], until: string): Promise<void>;
  /** Hangs up without a word (no Sync, no Terminate). */
  leave(): void;
};

/** Connects to `databaseUrl` (trust authentication, as the embedded Postgres uses) and waits until it is ready for queries. */
export async function wireClient(databaseUrl: string): Promise<WireClient> {
  const url = new URL(databaseUrl);
  const socket = connect(Number(url.port || 5432), url.hostname);
  await once(socket, "connect");
  const received = answers(socket);
  const params = Buffer.from(`user\0${decodeURIComponent(url.username) || "postgres"}\0database\0${url.pathname.slice(1) || "postgres"}\0\0`);
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + params.length);
  startup.writeInt32BE(3 << 16, 4); // protocol 3.0
  socket.write(Buffer.concat([startup, params]));
  await received("Z");
  return {
    async send(messages, until) {
      socket.write(Buffer.concat(messages));
      await received(until);
    },
    leave: () => socket.destroy(),
  };
}

/** Waits, each call, for the next backend message of a given type. */
function answers(socket: Socket): (type: string) => Promise<void> {
  let buffer = Buffer.alloc(0);
  const seen: string[] = [];
  let waiter: { type: string; resolve: () => void; reject: (error: Error) => void } | undefined;
  const settle = () => {
    if (waiter === undefined) return;
    const at = seen.indexOf(waiter.type);
    if (at === -1) return;
    seen.splice(0, at + 1);
    const { resolve } = waiter;
    waiter = undefined;
    resolve();
  };
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 5 && buffer.length >= 1 + buffer.readInt32BE(1)) {
      seen.push(String.fromCharCode(buffer[0]!));
      buffer = buffer.subarray(1 + buffer.readInt32BE(1));
    }
    settle();
  });
  socket.on("close", () => waiter?.reject(new Error(`the backend hung up before answering ${waiter.type}`)));
  return (type) =>
    new Promise((resolve, reject) => {
      waiter = { type, resolve, reject };
      settle();
    });
}

/** One frontend message: its type, its length, its body. */
function message(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(5);
  header.write(type);
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

const text = (value: string) => Buffer.from(`${value}\0`);
const int16 = (value: number) => Buffer.from([value >> 8, value & 0xff]);

/** A simple-protocol Query. */
export const query = (sql: string): Buffer => message("Q", text(sql));

/** Parse, Bind and Execute of `sql` (the unnamed statement and portal, no parameters), and no Sync. */
export function exchangeWithoutSync(sql: string): Buffer[] {
  return [message("P", text(""), text(sql), int16(0)), message("B", text(""), text(""), int16(0), int16(0), int16(0)), message("E", text(""), Buffer.alloc(4))];
}
