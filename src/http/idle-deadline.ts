/**
 * A stream's idle timeout with one timer, not one per read. A provider streams an event per
 * token or so, and a `setTimeout` and `clearTimeout` around every read (two calls into the
 * runtime, a promise and a race each) were a few per cent of an agent turn's CPU, at each of
 * the two layers that read a stream (the provider's relay and the surface's translation).
 * Here a read notes when it began; the timer, armed when a read finds none running, wakes
 * when that read could be overdue, and re-arms for what is left if another read began since.
 *
 * A read that takes `ms` or longer resolves as `IDLE` (its own promise goes on; a caller may
 * race it again). `stop()` when the stream ends: no timer outlives it, and a read still
 * waiting then settles as its own promise does.
 */

export const IDLE = Symbol("idle");

export type IdleDeadline = {
  /** `read`, or `IDLE` if it has not settled `ms` after this call. */
  race<T>(read: Promise<T>): Promise<T | typeof IDLE>;
  stop(): void;
};

export function idleDeadline(ms: number): IdleDeadline {
  /** When the read being waited for began. */
  let since = 0;
  /** Settles the read being waited for as idle; undefined when none is. */
  let wake: ((idle: typeof IDLE) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const check = (): void => {
    timer = undefined;
    if (wake === undefined) return; // no read waits: the next one arms the timer
    const left = since + ms - Date.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    const idle = wake;
    wake = undefined;
    idle(IDLE);
  };

  return {
    race<T>(read: Promise<T>): Promise<T | typeof IDLE> {
      since = Date.now();
      timer ??= setTimeout(check, ms);
      return new Promise<T | typeof IDLE>((resolve, reject) => {
        let settled = false;
        const idle = (): void => {
          settled = true;
          resolve(IDLE);
        };
        wake = idle;
        // The read settles the race unless it went idle first; after `stop()` it still does, so no caller waits forever.
        const done = (): boolean => {
          if (settled) return false;
          settled = true;
          if (wake === idle) wake = undefined;
          return true;
        };
        read.then(
          (value) => done() && resolve(value),
          (error: unknown) => done() && reject(error),
        );
      });
    },
    stop(): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      wake = undefined;
    },
  };
}
