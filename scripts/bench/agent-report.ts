/** The agent bench's table: printed, and written into bench/RESULTS.md (with --quick, bench/.quick/) under a heading of its own. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { WorkerFootprint } from "./agent-footprint.ts";

export type PolicyRow = {
  policy: string;
  calls: number;
  failed: number;
  failures: string[];
  promptTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The Claude Code sessions alone: what the issue's goals were set on. */
  claudeCode: { promptTokens: number; cacheReadTokens: number };
  completionTokens: number;
  /** At the catalog's list prices, per call, by the model that served it. */
  providerBillUsd: number;
  /** Provider calls by the model that served them (retries and fallbacks included). */
  servedBy: Record<string, number>;
  /** Models the catalog has no price for (their calls are left out of the bill). */
  unpriced: string[];
  /** The client key's spend as the router settled it (`GET /v1/usage`); null when no router was in the way. */
  chargedUsd: number | null;
  /** Changes of model from a session's previous call, by the kind of the call that changed; null without a router. */
  switches: { toolResult: number; user: number } | null;
  /** How many user turns each tier was given (`x-tiergate-tier`). */
  userTiers: Record<string, number> | null;
  /** The switches by why the router made them (its `x-tiergate-reason`). */
  moves: Record<string, number> | null;
};

export type AgentBenchResults = {
  environment: { date: string; commit: string };
  quick: boolean;
  sessions: { claudeCode: number; aider: number; responses: number };
  rows: PolicyRow[];
  footprint: { router: WorkerFootprint; forwardOnly: WorkerFootprint };
};

const root = fileURLToPath(new URL("../..", import.meta.url));
const HEADING = "## Agent sessions: what a coding agent pays";

const share = (part: number, whole: number): string => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`);
const usd = (value: number): string => `$${value.toFixed(2)}`;
const tiers = (counts: Record<string, number> | null): string =>
  counts === null
    ? "-"
    : Object.entries(counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([tier, n]) => `t${tier}: ${n}`)
        .join(", ");

const moveList = (moves: Record<string, number>): string =>
  Object.keys(moves).length === 0
    ? "never"
    : Object.entries(moves)
        .sort(([, a], [, b]) => b - a)
        .map(([why, n]) => `${why} ${n}`)
        .join(", ");

/** The section, in Markdown: what was replayed, the table, and what the figures should reach. */
export function agentSection({ environment, quick, sessions, rows, footprint }: AgentBenchResults): string {
  const direct = rows[0]!;
  const priceVersion = JSON.parse(readFileSync(`${root}node_modules/@pydantic/genai-prices/package.json`, "utf8")).version as string;
  const lines = [
    `${HEADING} (\`npm run bench -- --agents${quick ? " --quick" : ""}\`, ${environment.date.slice(0, 10)}, commit \`${environment.commit}\`)`,
    "",
    `${sessions.claudeCode + sessions.aider + sessions.responses} agent sessions replayed call by call, each policy in turn: ${sessions.claudeCode} Claude Code sessions ` +
      "(the real CLI's captured requests: system prompt, tools, breakpoints, `metadata.user_id`; grown by tool loops to 28k-140k tokens a call), " +
      `${sessions.aider} Aider token profiles (../shared/bench/agent-sessions, as Messages requests with Claude Code's breakpoints), ` +
      `and ${sessions.responses} Codex-like session through \`/v1/responses\` with \`prompt_cache_key\`: ${direct.calls} calls, ` +
      `${(direct.promptTokens / 1e6).toFixed(1)}M prompt tokens. The provider is a fake with a simulated prompt cache per model ` +
      "(scripts/bench/prompt-cache.ts): Anthropic's models cache at breakpoints (5 min, or 1 h; a read looks back 20 blocks), " +
      "the others every prefix from 1,024 tokens. Simulated time passes between calls (5-20 s after a tool, 1-7 min after a user's turn). " +
      `The provider's bill is at list prices (\`@pydantic/genai-prices\` ${priceVersion}), call by call, by the model that served it; ` +
      "tiergate's charge is the client key's spend (`GET /v1/usage`).",
    "",
    "| policy | calls (failed) | read from the cache | written | billed in full | read, Claude Code sessions | provider's bill | tiergate charged | switches on tool results | switches on user turns | tiers of user turns |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows
      .map((row) => {
        const full = row.promptTokens - row.cacheReadTokens - row.cacheWriteTokens;
        return [
          row.policy,
          `${row.calls} (${row.failed})`,
          share(row.cacheReadTokens, row.promptTokens),
          share(row.cacheWriteTokens, row.promptTokens),
          share(full, row.promptTokens),
          share(row.claudeCode.cacheReadTokens, row.claudeCode.promptTokens),
          `${usd(row.providerBillUsd)}${row.unpriced.length > 0 ? ` (unpriced: ${row.unpriced.join(", ")})` : ""}`,
          row.chargedUsd === null ? "-" : usd(row.chargedUsd),
          row.switches === null ? "-" : String(row.switches.toolResult),
          row.switches === null ? "-" : String(row.switches.user),
          tiers(row.userTiers),
        ].join(" | ");
      })
      .map((cells) => `| ${cells} |`),
    "",
    "Who served the calls: " +
      rows
        .slice(1)
        .map(
          (row, i) =>
            `(${i + 1}) ${Object.entries(row.servedBy)
              .sort(([, a], [, b]) => b - a)
              .map(([model, n]) => `${model} ${n}`)
              .join(", ")}`,
        )
        .join("; ") +
      ". (1)-(4): the four policies in the table's order.",
    "",
    `Why the routed sessions changed model (from \`x-tiergate-reason\`): ${rows
      .slice(1)
      .map((row, i) => `(${i + 1}) ${moveList(row.moves ?? {})}`)
      .join("; ")}.`,
    "",
    ...footprintLines(footprint),
    "",
    ...goalLines(rows),
    "",
  ];
  return lines.join("\n");
}

/**
 * Issue 35's goals, each with this run's figure and whether it is met; the rows are in agents.ts's order.
 * The issue's replay was the Claude Code sessions and 14 short Aider sessions (284 calls, 14.4M prompt
 * tokens, 92.9% read sent straight): nearly all of it Claude Code, whose six sessions hold 14.1M tokens
 * here. Its read goals are measured on those; the whole replay, which adds all 130 Aider profiles, is
 * shown beside what it reads sent straight, which no router can better.
 */
function goalLines(rows: PolicyRow[]): string[] {
  const [direct, claude, frontier, perTurn, routed] = rows as [PolicyRow, PolicyRow, PolicyRow, PolicyRow, PolicyRow];
  const met = (ok: boolean) => (ok ? "met" : "**not met**");
  const pct = (value: number) => `${(100 * value).toFixed(1)}%`;
  const whole = (row: PolicyRow) => row.cacheReadTokens / row.promptTokens;
  const claudeCode = (row: PolicyRow) => row.claudeCode.cacheReadTokens / row.claudeCode.promptTokens;
  const reads = (row: PolicyRow, goal: number) =>
    `${pct(claudeCode(row))} of the Claude Code sessions' (${met(claudeCode(row) >= goal)}); the whole replay ${pct(whole(row))}, ` +
    `against ${pct(whole(direct))} sent straight`;
  // Below by more than 1%: the routed rows move by a few cents between runs (which model of a tier answers first).
  const below = (row: PolicyRow) => routed.providerBillUsd < 0.99 * row.providerBillUsd;
  return [
    `Against issue 35's goals. Its replay was six Claude Code sessions and 14 short Aider sessions (284 calls, ` +
      `14.4M prompt tokens, 92.9% read sent straight), nearly all of it Claude Code, whose sessions here hold ` +
      `${(direct.claudeCode.promptTokens / 1e6).toFixed(1)}M prompt tokens and read ${pct(claudeCode(direct))} sent straight: the read goals ` +
      `are measured on them. The whole replay adds all 130 Aider profiles, which read less even sent straight (their contexts shrink ` +
      "and restart, and one user turn in five comes after the 5-minute TTL), so it cannot reach 90%; it is shown beside what it reads sent straight.",
    "",
    `- Pinned to a Claude model, at least 90% read: ${reads(claude, 0.9)}.`,
    `- Routed, at least 88% read: ${reads(routed, 0.88)}; 0 switches on tool results: ${routed.switches?.toolResult ?? "-"} ` +
      `(${met(routed.switches?.toolResult === 0)}).`,
    `- The routed bill, ${usd(routed.providerBillUsd)}, below the frontier-pinned (${usd(frontier.providerBillUsd)}) and the ` +
      `\`SESSION_AFFINITY=off\` (${usd(perTurn.providerBillUsd)}) bills by more than 1%: ${met(below(frontier) && below(perTurn))}; ` +
      `the tiers of its user turns: ${tiers(routed.userTiers)} (a saving bought by sending everything to tier 1 shows there).`,
  ];
}

/** workerd's CPU per turn and memory per turn in flight, the router beside the forward-only Worker, and issue 37's goals. */
function footprintLines({ router, forwardOnly }: AgentBenchResults["footprint"]): string[] {
  const bodyMib = router.turn.turnBytes / 1024 / 1024;
  const times = (mib: number) => `${(mib / bodyMib).toFixed(1)}× the body`;
  const ms = (a: number, b: number) => `${a.toFixed(2)} / ${b.toFixed(2)} ms`;
  const row = (name: string, { turn, tiny, backToBack, paced }: WorkerFootprint) =>
    `| ${name} | ${ms(paced.turnMs, paced.tinyMs)} | ${ms(backToBack.turnMs, backToBack.tinyMs)} | ${ms(turn.cpuMsPerTurn, tiny.cpuMsPerTurn)} | ` +
    `${turn.mibPerTurnInFlight.toFixed(2)} MiB (${times(turn.mibPerTurnInFlight)}) | ${turn.mibPerTurnAtPeak.toFixed(2)} MiB | ` +
    `${turn.baselineMib} MiB | ${turn.turns + tiny.turns + backToBack.requests + paced.requests} ` +
    `(${turn.failed + tiny.failed + backToBack.failed + paced.failed}) |`;
  const met = (ok: boolean) => (ok ? "met" : "**not met**");
  const { paced } = router;
  const forward = forwardOnly.paced;
  const bodyShare = paced.turnMs - paced.tinyMs;
  const forwardBodyShare = forward.turnMs - forward.tinyMs;
  const tinyRatio = paced.tinyMs / forward.tinyMs;
  const backToBackRatio = router.backToBack.tinyMs / forwardOnly.backToBack.tinyMs;
  const memory = router.turn.mibPerTurnInFlight;
  const failures = [router, forwardOnly]
    .flatMap((worker) => [worker.turn, worker.tiny, worker.backToBack, worker.paced])
    .flatMap((f) => (f.firstFailure === undefined ? [] : [f.firstFailure]));
  return [
    `What a turn costs the Worker: ${router.turn.inFlight} Claude Code turns of ${Math.round(router.turn.turnBytes / 1000)} KB at once, held at the ` +
      `provider until all are in flight, ${router.turn.turns / router.turn.inFlight} times; then as many tiny Messages requests the same way; ` +
      `then ${paced.requests / 2} of each sent one at a time, ${paced.pauseMs} ms after the last one's answer (an agent's pace: ` +
      "each request's after-response work is done before the next; less what workerd used idle over as long: " +
      `${paced.idleMs.toFixed(2)} ms a request for the router, ${forward.idleMs.toFixed(2)} ms for the forward-only Worker), and as many back to back. ` +
      "workerd's CPU (user + system, from /proc) per request; its resident memory above its idle baseline, per turn, while all the turns " +
      "are held at the provider, and at the highest sample of the waves.",
    "",
    `| Worker | CPU per turn / per tiny request: one at a time, ${paced.pauseMs} ms apart | back to back | ${router.turn.inFlight} at once | memory per turn in flight | at the peak | idle resident memory | requests (failed) |`,
    "|---|---|---|---|---|---|---|---|",
    row("tiergate (routed, the default)", router),
    row("forward-only (scripts/bench/forward-worker.js)", forwardOnly),
    "",
    "Against issue 37's goals, in this run:",
    "",
    `- The body's share of a turn at an agent's pace (its CPU less a tiny request's), at most what the forward-only Worker spends on a ` +
      `whole tiny request: ${bodyShare.toFixed(2)} ms against ${forward.tinyMs.toFixed(2)} ms ` +
      `(${met(bodyShare <= forward.tinyMs)}). The forward-only Worker's own body share, reading the body and sending it on: ` +
      `${forwardBodyShare.toFixed(2)} ms.`,
    `- A tiny request sent one at a time, at most 1.5× the forward-only Worker's: ${tinyRatio.toFixed(2)}× at an agent's pace ` +
      `(${met(tinyRatio <= 1.5)}); ${backToBackRatio.toFixed(2)}× back to back.`,
    `- Memory per turn in flight, at most 2× the body: ${times(memory)} (${met(memory <= 2 * bodyMib)}). The forward-only Worker, ` +
      `which reads the body as text and sends it on, holds ${times(forwardOnly.turn.mibPerTurnInFlight)} itself here; the issue measured it at 0.8×.`,
    ...failures.flatMap((failure) => ["", `A failed request: ${failure}`]),
  ];
}

/** Prints the section and writes it, replacing the section of an earlier run; returns the folder written. */
export async function writeAgentReport(results: AgentBenchResults): Promise<string> {
  const section = agentSection(results);
  console.log(`\n${section}`);
  const dir = results.quick ? `${root}bench/.quick` : `${root}bench`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/agents.json`, `${JSON.stringify(results, null, 2)}\n`);
  const file = `${dir}/RESULTS.md`;
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  writeFileSync(file, withSection(before, section));
  return dir;
}

/** `document` with the agent section `old` holds, if it holds one: another report's rewrite keeps the agent bench's last table. */
export function withAgentSectionOf(old: string, document: string): string {
  const start = old.indexOf(HEADING);
  if (start < 0) return document;
  const next = old.indexOf("\n## ", start + HEADING.length);
  return withSection(document, next < 0 ? old.slice(start) : old.slice(start, next + 1));
}

/** `document` with its agent section replaced by `section`, or `section` put before "How to read this" (or at the end). */
export function withSection(document: string, section: string): string {
  const body = section.trimEnd();
  const start = document.indexOf(HEADING);
  if (start >= 0) {
    const next = document.indexOf("\n## ", start + HEADING.length);
    return next < 0 ? `${document.slice(0, start)}${body}\n` : `${document.slice(0, start)}${body}\n\n${document.slice(next + 1)}`;
  }
  const reading = document.indexOf("## How to read this");
  if (reading >= 0) return `${document.slice(0, reading)}${body}\n\n${document.slice(reading)}`;
  return `${document}${document === "" || document.endsWith("\n\n") ? "" : "\n"}${body}\n`;
}
