import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IDLE, idleDeadline } from "../../src/http/idle-deadline.ts";

/** A read that settles `ms` from now with `value`. */
const readIn = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe("idleDeadline", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("settles a read that takes the whole timeout as idle, and lets the read be raced again", async () => {
    const deadline = idleDeadline(1_000);
    const read = readIn(1_500, "late");
    const first = deadline.race(read);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(first).resolves.toBe(IDLE);
    const again = deadline.race(read);
    await vi.advanceTimersByTimeAsync(500);
    await expect(again).resolves.toBe("late");
    deadline.stop();
  });

  it("never times out reads that each come within the timeout, however long the stream runs", async () => {
    const deadline = idleDeadline(1_000);
    const results: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const raced = deadline.race(readIn(900, i));
      await vi.advanceTimersByTimeAsync(900);
      results.push(await raced);
    }
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    deadline.stop();
  });

  it("sets a timer per timeout period, not per read", async () => {
    const setTimer = vi.spyOn(globalThis, "setTimeout");
    const deadline = idleDeadline(1_000);
    const before = setTimer.mock.calls.length;
    for (let i = 0; i < 100; i++) {
      const raced = deadline.race(Promise.resolve(i));
      await vi.advanceTimersByTimeAsync(10);
      await raced;
    }
    // 100 reads over one second: the timer was armed once and re-armed at most once.
    expect(setTimer.mock.calls.length - before).toBeLessThanOrEqual(2);
    deadline.stop();
    setTimer.mockRestore();
  });

  it("passes a failed read's error on", async () => {
    const deadline = idleDeadline(1_000);
    await expect(deadline.race(Promise.reject(new Error("broken")))).rejects.toThrow("broken");
    deadline.stop();
  });

  it("lets a read still waiting when stopped settle as its own promise does", async () => {
    const deadline = idleDeadline(1_000);
    const raced = deadline.race(readIn(100, "done"));
    deadline.stop();
    await vi.advanceTimersByTimeAsync(100);
    await expect(raced).resolves.toBe("done");
  });

  it("leaves no timer behind once stopped", async () => {
    const deadline = idleDeadline(1_000);
    void deadline.race(new Promise(() => {}));
    deadline.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
