/**
 * Sessions and turns of their own on PGlite's one backend. `pglite-socket` runs every
 * client's messages on the same Postgres session, one message at a time in arrival order,
 * so two kinds of state leaked from one client to another:
 * - session settings: pg_dump's first statement, `SET search_path = ''`, held for every
 *   other client until a restart. Here each client's settings are put aside when another
 *   client's turn comes, and put back when its own does; a client that leaves takes its
 *   settings with it.
 * - the unnamed statement of an extended-protocol exchange (Parse, Bind, Describe,
 *   Execute, then Sync): another client's Parse in between bound this client's values to
 *   that client's statement (`invalid input syntax for type json`, or someone else's rows),
 *   and a simple query in between (a dump, or the settings swap itself) dropped it
 *   (`unnamed prepared statement does not exist`). Here a client keeps its turn from its
 *   first message to the Sync that ends the exchange, or to the end of its transaction;
 *   other clients' messages, and a dump, wait until then. A client that hangs up in the
 *   middle has what it left open rolled back before anyone else's turn.
 *
 * `pglite-socket` has no hook for this, so some of its internals are wrapped: the query
 * queue's `enqueue` (which client sent a message; whether its turn has come), its
 * `clearQueueForHandler` and `clearTransactionIfNeeded` (a client left), and the
 * instance's `execProtocolRawStream` (the one call each queued message makes). Both
 * packages are pinned, and test/integration/embedded-stack.test.ts fails if either changes.
 *
 * Limits: a client is not told (no ParameterStatus) when its settings are put back; a
 * client that holds its turn (a transaction left open, an exchange with no Sync) makes
 * every other client wait, as an open transaction already did in `pglite-socket`.
 */
import type { PGlite } from "@electric-sql/pglite";
import type { PGLiteSocketServer } from "@electric-sql/pglite-socket";

type Queue = {
  enqueue(handler: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number>;
  clearQueueForHandler(handler: number): void;
  clearTransactionIfNeeded(handler: number): Promise<void>;
  getQueueLength(): number;
  processing: boolean;
};

type Setting = { name: string; value: string };
/** A client's messages: how many it has sent, how many of them are queued, whether it has gone. */
type Line = { sent: number; queued: number; left: boolean };

/** The session whose settings an in-process job (a dump) runs with: the defaults. */
const JOB = 0;

/** The extended-protocol messages a Sync ends: Parse, Bind, Describe, Execute, Close, Flush. */
const EXCHANGE = new Set([..."PBDECH"].map((type) => type.charCodeAt(0)));

/**
 * What undoes the exchange or transaction a client left open, as a backend undoes it for a
 * client that goes: a ROLLBACK ends an exchange that has not failed (a Sync would commit
 * it), a Sync one that has (the backend ignores all else until a Sync), and a last
 * ROLLBACK the transaction block a failed exchange was in.
 */
const ABANDON = [queryMessage("ROLLBACK"), new Uint8Array([0x53, 0, 0, 0, 4]), queryMessage("ROLLBACK")];

export type Sessions = {
  /** Runs `job` on the backend alone, with default settings, once the client whose turn it is has ended it. */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
};

export function isolateSessions(db: PGlite, server: PGLiteSocketServer): Sessions {
  const queue = (server as unknown as { queryQueue: Queue }).queryQueue;
  const sender = new WeakMap<Uint8Array, number>();
  const saved = new Map<number, Setting[]>();
  let current = JOB;
  let currentLeft = false;

  /** The client whose turn it is: its message is queued or running, or its exchange or transaction is open. */
  let holder: number | null = null;
  /** The holder's last message left its exchange open (no Sync yet). */
  let exchangeOpen = false;
  /** A job waits for the backend or runs on it: no client's turn begins. */
  let paused = false;
  /**
   * Each connected client's messages on their way to the queue, in the order it sent them:
   * `pglite-socket` may hand on two of one client's messages at once (one per chunk read),
   * and a message that waited for its turn must not be overtaken by one that came after it.
   */
  const lines = new Map<number, Line>();
  let wake = (): void => {};
  /** Settles whenever a turn ends or a job does; whoever waits then looks again. */
  let turnEnded = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const notify = (): void => {
    const settle = wake;
    turnEnded = new Promise((resolve) => {
      wake = resolve;
    });
    settle();
  };
  const endTurn = (): void => {
    holder = null;
    exchangeOpen = false;
    notify();
  };
  const mustWait = (handler: number): boolean => (holder === null ? paused : holder !== handler);

  const raw = db.execProtocolRawStream.bind(db);
  /**
   * One simple-protocol statement, inside whatever lock the caller holds. It streams to
   * a buffer of its own: PGlite's other exec calls write to the last stream's callback,
   * which would be the last client's socket.
   */
  const run = async (text: string): Promise<string[][]> => {
    const chunks: Uint8Array[] = [];
    await raw(queryMessage(text), { syncToFs: false, onRawData: (data) => chunks.push(data.slice()) });
    return dataRows(Buffer.concat(chunks));
  };
  /** One message whose answer no one reads, inside whatever lock the caller holds. */
  const discard = (message: Uint8Array): Promise<void> => raw(message, { syncToFs: false, onRawData: () => {} });

  const enter = async (session: number): Promise<void> => {
    if (session === current || db.isInTransaction()) return;
    try {
      await swap(session);
    } catch {
      // A setting that cannot be put back (or a backend that refuses the swap): the client gets the defaults, the queue goes on.
      await run("RESET ALL").catch(() => {});
      saved.delete(session);
      current = session;
      currentLeft = false;
    }
  };
  const swap = async (session: number): Promise<void> => {
    const changed = await run("SELECT name, setting FROM pg_settings WHERE source = 'session' AND context IN ('user', 'superuser')");
    if (current !== JOB && !currentLeft && changed.length > 0)
      saved.set(
        current,
        changed.map(([name, value]) => ({ name: name!, value: value! })),
      );
    if (changed.length > 0) await run("RESET ALL");
    const theirs = saved.get(session) ?? [];
    if (theirs.length > 0) await run(`SELECT ${theirs.map((s) => `set_config(${literal(s.name)}, ${literal(s.value)}, false)`).join(", ")}`);
    current = session;
    currentLeft = false;
  };

  const enqueue = queue.enqueue.bind(queue);
  queue.enqueue = async (handler, message, onData) => {
    sender.set(message, handler);
    const line = lines.get(handler) ?? { sent: 0, queued: 0, left: false };
    lines.set(handler, line);
    const place = line.sent++;
    while (!line.left && (place !== line.queued || mustWait(handler))) await turnEnded;
    if (line.left) return 0; // the client went while its message waited: not run for nobody
    line.queued++;
    // Taken before the message is queued, so no other client's message is queued beside it.
    holder = handler;
    if (line.queued < line.sent) notify(); // the client's next message may go on too
    return enqueue(handler, message, onData);
  };
  db.execProtocolRawStream = async (message, options) => {
    const handler = sender.get(message);
    if (handler === undefined) return raw(message, options);
    await enter(handler);
    try {
      return await raw(message, options);
    } finally {
      if (holder === handler) {
        exchangeOpen = EXCHANGE.has(message[0]!);
        if (!exchangeOpen && !db.isInTransaction()) endTurn();
      }
    }
  };
  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handler) => {
    clear(handler);
    saved.delete(handler);
    if (current === handler) currentLeft = true;
    const line = lines.get(handler);
    lines.delete(handler);
    if (line !== undefined && line.queued < line.sent) {
      line.left = true;
      notify(); // its waiting messages go; the turn stays whose it is
    }
  };
  // `pglite-socket` calls this right after clearQueueForHandler, when a client leaves.
  const clearTransaction = queue.clearTransactionIfNeeded.bind(queue);
  queue.clearTransactionIfNeeded = async (handler) => {
    await db.runExclusive(async () => {
      if (holder !== handler) return;
      try {
        if (exchangeOpen || db.isInTransaction()) for (const message of ABANDON) await discard(message);
      } finally {
        endTurn();
      }
    });
    return clearTransaction(handler);
  };

  const idle = async (): Promise<void> => {
    for (const deadline = Date.now() + 30_000; holder !== null || queue.processing || queue.getQueueLength() > 0 || db.isInTransaction(); ) {
      if (Date.now() > deadline) throw new Error("a client has kept a transaction or an exchange open for 30 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  return {
    async exclusive(job) {
      while (paused) await turnEnded;
      paused = true;
      let started = false;
      try {
        await idle();
        started = true;
        await enter(JOB);
        await run("SELECT 1"); // aims PGlite's output at a buffer of ours, not at the last client's socket
        return await job();
      } finally {
        try {
          // pg_dump leaves its snapshot's transaction open (PGlite ignores its Terminate): it must not outlive the job.
          // A client's own transaction (the job never started) is the client's to end.
          if (started && db.isInTransaction()) await run("ROLLBACK");
        } finally {
          paused = false;
          notify();
        }
      }
    },
  };
}

/** A simple-protocol Query message: 'Q', its length, the text, a NUL. */
function queryMessage(text: string): Uint8Array {
  const body = Buffer.from(`${text}\0`);
  const message = Buffer.alloc(5 + body.length);
  message.write("Q");
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return new Uint8Array(message);
}

/** The rows of a backend's answer (DataRow messages, text format); an ErrorResponse throws. */
function dataRows(answer: Buffer): string[][] {
  const rows: string[][] = [];
  for (let at = 0; at < answer.length; at += 1 + answer.readInt32BE(at + 1)) {
    const type = String.fromCharCode(answer[at]!);
    if (type === "E")
      throw new Error(
        `session settings: ${answer
          .subarray(at + 5, at + 1 + answer.readInt32BE(at + 1))
          .toString()
          .replaceAll("\0", " ")}`,
      );
    if (type !== "D") continue;
    const row: string[] = [];
    let field = at + 7;
    for (let column = answer.readInt16BE(at + 5); column > 0; column--) {
      const length = answer.readInt32BE(field);
      row.push(length < 0 ? "" : answer.subarray(field + 4, field + 4 + length).toString());
      field += 4 + Math.max(0, length);
    }
    rows.push(row);
  }
  return rows;
}

const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;
