/**
 * Sessions of their own on PGlite's one backend. `pglite-socket` runs every client's
 * messages on the same Postgres session, so one client's `SET search_path = ''`
 * (pg_dump's first statement) held for every other client until a restart. Here each
 * client's session settings are put aside when another client's message comes, and
 * put back when its own does; a client that leaves takes its settings with it.
 *
 * `pglite-socket` has no hook for this, so two of its internals are wrapped: the query
 * queue's `enqueue` (which client sent a message) and the instance's
 * `execProtocolRawStream` (the one call each queued message makes). Both packages are
 * pinned, and test/integration/embedded-stack.test.ts fails if either changes.
 *
 * Limits: a client is not told (no ParameterStatus) when its settings are put back,
 * and messages of one extended-protocol exchange can still interleave with another
 * client's, as they do in `pglite-socket` itself.
 */
import type { PGlite } from "@electric-sql/pglite";
import type { PGLiteSocketServer } from "@electric-sql/pglite-socket";

type Queue = {
  enqueue(handler: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number>;
  clearQueueForHandler(handler: number): void;
  getQueueLength(): number;
  processing: boolean;
  lastHandlerId: number | null;
};

type Setting = { name: string; value: string };

/** The session whose settings an in-process job (a dump) runs with: the defaults. */
const JOB = 0;

export type Sessions = {
  /** Runs `job` on the backend alone, with default settings, once every open transaction has ended. */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
};

export function isolateSessions(db: PGlite, server: PGLiteSocketServer): Sessions {
  const queue = (server as unknown as { queryQueue: Queue }).queryQueue;
  const sender = new WeakMap<Uint8Array, number>();
  const saved = new Map<number, Setting[]>();
  let current = JOB;
  let currentLeft = false;
  let paused: Promise<void> | undefined;
  /** While a job waits for the backend: the client whose transaction was open when it asked, which alone may go on to end it. */
  let finishing: number | null = null;
  /** Clients that left during the current job's pause: a message of theirs that waited it out is dropped, not run for nobody. */
  const gone = new Set<number>();

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
    // While a job waits or runs, only the client whose transaction was open when it asked goes on (so it can end it).
    while (paused !== undefined && handler !== finishing) await paused;
    if (gone.has(handler)) return 0;
    return enqueue(handler, message, onData);
  };
  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handler) => {
    clear(handler);
    if (paused !== undefined) gone.add(handler);
    saved.delete(handler);
    if (current === handler) currentLeft = true;
    if (finishing === handler) finishing = null;
  };
  db.execProtocolRawStream = async (message, options) => {
    const handler = sender.get(message);
    if (handler !== undefined) await enter(handler);
    return raw(message, options);
  };

  const idle = async (): Promise<void> => {
    for (const deadline = Date.now() + 30_000; queue.processing || queue.getQueueLength() > 0 || db.isInTransaction(); ) {
      if (Date.now() > deadline) throw new Error("a client has kept a transaction open for 30 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  return {
    async exclusive(job) {
      while (paused !== undefined) await paused;
      gone.clear(); // the last pause's parked messages have all gone on by now
      let release = (): void => {};
      paused = new Promise((resolve) => {
        release = resolve;
      });
      finishing = db.isInTransaction() ? queue.lastHandlerId : null;
      let started = false;
      try {
        await idle();
        finishing = null;
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
          finishing = null;
          paused = undefined;
          release();
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
