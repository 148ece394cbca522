/**
 * What an agent's turn costs the Worker (issue 37): workerd's CPU per turn, and its resident
 * memory per turn in flight with 80 Claude Code turns of about 347 KB held open at the provider,
 * for the router and for the forward-only Worker beside it, read from /proc as the rest of the
 * bench does.
 */
import { readFileSync } from "node:fs";
import type { ReplayCall } from "./agent-replay.ts";
import type { CachingProvider } from "./caching-provider.ts";
import { claudeCodeSessions } from "./claude-code-replay.ts";
import { cpuSecondsOf, processTree, statusKib } from "./targets.ts";

export const IN_FLIGHT = 80;
const TURN_BYTES = 347_000;
const WAVES = 3;
const HOLD_MS = 2_500;

export type Footprint = {
  turnBytes: number;
  inFlight: number;
  turns: number;
  cpuMsPerTurn: number;
  /** Above the idle baseline, per turn, while all the turns are held at the provider: what a turn in flight keeps. */
  mibPerTurnInFlight: number;
  /** Above the idle baseline, per turn, at the highest sample of the waves: with the garbage of reading 80 bodies at once. */
  mibPerTurnAtPeak: number;
  baselineMib: number;
  failed: number;
  firstFailure?: string;
};
/**
 * workerd's CPU per request, a turn and a tiny request, each sent `pauseMs` after the last
 * one's answer was read, less what workerd used idle over as long (`idleMs`, per request).
 * `requests` and `failed` count the measured ones (a warm-up of each kind goes first).
 */
export type OneAtATime = { pauseMs: number; turnMs: number; tinyMs: number; idleMs: number; requests: number; failed: number; firstFailure?: string };
/**
 * A Worker's footprint. With `IN_FLIGHT` at once: the turn, then a tiny request. One at a
 * time: back to back, and at an agent's pace. Issue 37 judges CPU one at a time: with many
 * in flight, the work a Worker does per request rather than per byte is shared, and back to
 * back too, within the router's after-response batch of 10 ms.
 */
export type WorkerFootprint = { turn: Footprint; tiny: Footprint; backToBack: OneAtATime; paced: OneAtATime };
/** Where the turns go; `headers(i)` for the i-th turn of a wave (its own key, as 80 agents have). */
export type FootprintTarget = { pid: number; url: string; headers: (i: number) => Record<string, string> };

/**
 * A tiny Messages request, sent the same way: the fixed cost of a request, which the turn's
 * CPU less this one's leaves as the body's share (issue 37's measure).
 */
export function tinyTurn(turn: ReplayCall): ReplayCall {
  return { ...turn, body: { model: turn.body.model, max_tokens: 256, messages: [{ role: "user", content: "Say hello." }] } };
}

/** The first call of a long Claude Code session that reaches `TURN_BYTES`: a turn deep in its tool loop. */
export function footprintTurn(): ReplayCall {
  for (const call of claudeCodeSessions([140_000])[0]!.calls()) if (JSON.stringify(call.body).length >= TURN_BYTES) return call;
  throw new Error(`no Claude Code turn reaches ${TURN_BYTES} bytes`);
}

/** The workerd processes under `pid`: the runtime, not its Node host. */
function workerdPids(pid: number): number[] {
  return processTree(pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").startsWith("workerd");
    } catch {
      return false;
    }
  });
}

/** Resident memory (VmRSS) of workerd under `pid`, in KiB. */
const workerdRssKib = (pid: number): number => statusKib(workerdPids(pid), "VmRSS");

/** CPU seconds workerd under `pid` has used (each workerd process alone, so none is counted twice). */
const workerdCpuSeconds = (pid: number): number => cpuSecondsOf(workerdPids(pid));

const perTurnMib = (kib: number): number => Math.round((kib / 1024 / IN_FLIGHT) * 100) / 100;

/** Waves of `IN_FLIGHT` turns, each held at the provider so all are in flight together, with workerd's RSS sampled meanwhile. */
export async function measureFootprint(target: FootprintTarget, provider: CachingProvider, turn: ReplayCall): Promise<Footprint> {
  const body = JSON.stringify(turn.body);
  let firstFailure: string | undefined;
  const send = async (i: number): Promise<boolean> => {
    const response = await fetch(target.url, { method: "POST", headers: target.headers(i), body });
    const text = await response.text();
    if (!response.ok) firstFailure ??= `${response.status}: ${text.slice(0, 300)}`;
    return response.ok;
  };
  await send(0); // warm: the isolate, its config and connections exist before the baseline is read
  await new Promise((resolve) => setTimeout(resolve, 500));
  const baselineKib = workerdRssKib(target.pid);
  const cpuBefore = workerdCpuSeconds(target.pid);
  provider.holdMs = HOLD_MS;
  let peakKib = baselineKib;
  let inFlightKib = baselineKib;
  let failed = 0;
  try {
    for (let wave = 0; wave < WAVES; wave++) {
      const sampler = setInterval(() => {
        const kib = workerdRssKib(target.pid);
        peakKib = Math.max(peakKib, kib);
        if (provider.held === IN_FLIGHT) inFlightKib = Math.max(inFlightKib, kib);
      }, 50);
      const results = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => send(i)));
      clearInterval(sampler);
      failed += results.filter((ok) => !ok).length;
    }
  } finally {
    provider.holdMs = 0;
  }
  const turns = WAVES * IN_FLIGHT;
  return {
    turnBytes: body.length,
    inFlight: IN_FLIGHT,
    turns,
    cpuMsPerTurn: Math.round(((workerdCpuSeconds(target.pid) - cpuBefore) * 1e6) / turns) / 1e3,
    mibPerTurnInFlight: perTurnMib(inFlightKib - baselineKib),
    mibPerTurnAtPeak: perTurnMib(peakKib - baselineKib),
    baselineMib: Math.round(baselineKib / 1024),
    failed,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}

/** Requests of each kind sent one at a time; one more first, not counted (it warms the path). */
const ONE_AT_A_TIME = 60;
/**
 * An agent's pace: a turn comes long after the last one's after-response work is done. 100 ms
 * is enough for that, and keeps the run short; the forward-only Worker figure (2.4 ms
 * a tiny request) is this regime's.
 */
const AGENT_PAUSE_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const msOf = (seconds: number, n: number): number => Math.round((seconds * 1e6) / n) / 1e3;

/** workerd's CPU per request (ms) for `call` sent `n` times, each `pauseMs` after the last one's answer was read. */
async function cpuOneAtATime(
  target: FootprintTarget,
  call: ReplayCall,
  n: number,
  pauseMs: number,
): Promise<{ ms: number; failed: number; firstFailure?: string }> {
  const body = JSON.stringify(call.body);
  let failed = 0;
  let firstFailure: string | undefined;
  const send = async (counted: boolean): Promise<void> => {
    const response = await fetch(target.url, { method: "POST", headers: target.headers(0), body });
    const text = await response.text();
    if (!response.ok) {
      firstFailure ??= `${response.status}: ${text.slice(0, 300)}`;
      if (counted) failed += 1;
    }
    if (pauseMs > 0) await sleep(pauseMs);
  };
  await send(false);
  const before = workerdCpuSeconds(target.pid);
  for (let i = 0; i < n; i++) await send(true);
  return { ms: msOf(workerdCpuSeconds(target.pid) - before, n), failed, ...(firstFailure === undefined ? {} : { firstFailure }) };
}

async function oneAtATime(target: FootprintTarget, turn: ReplayCall, pauseMs: number): Promise<OneAtATime> {
  // What workerd does idle over the pauses (its timers, the runtime's own work) is not the requests'.
  const idleBefore = workerdCpuSeconds(target.pid);
  await sleep(ONE_AT_A_TIME * pauseMs);
  const idleMs = msOf(workerdCpuSeconds(target.pid) - idleBefore, ONE_AT_A_TIME);
  const turns = await cpuOneAtATime(target, turn, ONE_AT_A_TIME, pauseMs);
  const tinies = await cpuOneAtATime(target, tinyTurn(turn), ONE_AT_A_TIME, pauseMs);
  const firstFailure = turns.firstFailure ?? tinies.firstFailure;
  return {
    pauseMs,
    turnMs: Math.round((turns.ms - idleMs) * 1e3) / 1e3,
    tinyMs: Math.round((tinies.ms - idleMs) * 1e3) / 1e3,
    idleMs,
    requests: 2 * ONE_AT_A_TIME,
    failed: turns.failed + tinies.failed,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}

/** The turn's footprint on `target`, then a tiny request's; then each sent one at a time, back to back and paced. */
export async function measureWorker(target: FootprintTarget, provider: CachingProvider, turn: ReplayCall): Promise<WorkerFootprint> {
  const inFlight = { turn: await measureFootprint(target, provider, turn), tiny: await measureFootprint(target, provider, tinyTurn(turn)) };
  return { ...inFlight, backToBack: await oneAtATime(target, turn, 0), paced: await oneAtATime(target, turn, AGENT_PAUSE_MS) };
}
