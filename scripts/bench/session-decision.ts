/**
 * µs for the whole decision of a 1k-token agent turn in a session: the session's key (its
 * digest), what the isolate remembers of it, and the decision steered by it: the figure
 * issue 35 holds at 50 µs. Part of `npm run bench:score`.
 */
import { createSessionStore } from "../../src/cache/session-store.ts";
import { type CanonicalRequest, CanonicalRequestSchema } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import { lookUpSession } from "../../src/engine/session-step.ts";
import { decide } from "../../src/routing/decide.ts";
import { NO_HEALTH } from "../../src/routing/pick.ts";

/** µs per call, the median of the batches: wall time, and the process's CPU time (which a loaded machine's other work does not inflate). */
export type Timing = { wallUs: number; cpuUs: number };

/**
 * Median µs per call of each of `fns` over `rounds` timed batches of `calls`, their batches
 * taken in turn, so a shared machine's load falls on each alike.
 */
async function measure(fns: (() => Promise<void>)[], rounds: number, calls: number): Promise<Timing[]> {
  for (const fn of fns) for (let i = 0; i < calls; i++) await fn(); // warm up
  const wall = fns.map((): number[] => []);
  const cpu = fns.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [f, fn] of fns.entries()) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      for (let i = 0; i < calls; i++) await fn();
      const used = process.cpuUsage(cpuStart);
      wall[f]!.push(((performance.now() - start) * 1000) / calls);
      cpu[f]!.push((used.user + used.system) / calls);
    }
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
  return fns.map((_, f) => ({ wallUs: median(wall[f]!), cpuUs: median(cpu[f]!) }));
}

/**
 * Median µs per decision of a tool-result continuation of `text` (about 1k tokens): with
 * the session's key, look-up and rules, and the same decision without a session.
 */
export async function measureSessionDecision(text: string, rounds = 15, calls = 500): Promise<{ withSession: Timing; without: Timing }> {
  const config = { ...parseConfig({ OPENROUTER_API_KEY: "k", GROQ_API_KEY: "k" }), sessionAffinity: true };
  const tracked = <T>(_store: "redis" | "postgres", call: () => Promise<T>): Promise<T> => call();
  const services = { config, sessions: createSessionStore({ keyPrefix: "bench", redis: undefined, tracked }) };
  const request: CanonicalRequest = CanonicalRequestSchema.parse({
    model: "auto",
    messages: [
      { role: "user", content: text },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "run", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: "exit 0" },
    ],
  });
  const headers = new Headers({ "x-session-id": "bench-session" });
  const caller = undefined;
  // The session is known to the isolate, on a model the score alone would not pick: the rules run in full.
  const first = await lookUpSession(services, request, headers, caller);
  const sonnet = config.registry.find((model) => model.tier === 4)!;
  services.sessions.remember(
    { local: first.named!, digest: await first.digest },
    { model: sonnet.id, tier: sonnet.tier, cacheUntil: Date.now() + 3_600_000, promptTokens: 1_000 },
  );
  const inSession = async (): Promise<void> => {
    // As the engine does (engine/decision.ts): the digest is taken while the decision is made.
    const session = await lookUpSession(services, request, headers, caller);
    const decision = decide(request, config, undefined, NO_HEALTH, session.view);
    if (decision.affinity !== "kept" || (await session.digest).length !== 32) throw new Error("the session did not steer");
  };
  const alone = async (): Promise<void> => {
    decide(request, config);
  };
  const [withSession, without] = await measure([inSession, alone], rounds, calls);
  return { withSession: withSession!, without: without! };
}
