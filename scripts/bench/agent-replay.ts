/**
 * The agent sessions the agent bench replays, call by call, as the agent sends them: each call's
 * body (the client's model name; a policy may replace it), whether it answers a new user message
 * or continues after a tool's result, and the simulated time since the session's previous call.
 *
 * - Claude Code (claude-code-replay.ts): the real CLI's captured scaffold, grown by tool loops.
 * - Aider: the 130 token profiles of ../shared/bench/agent-sessions/sessions.jsonl as Messages
 *   requests with Claude Code's breakpoints (the system prompt and the last message).
 * - One Codex-like session through `/v1/responses`, with `prompt_cache_key`.
 *
 * Text is made up (code-like lines) to the recorded sizes; markers tell the caching provider
 * whose clock a call reads and what to answer (caching-provider.ts).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { answerMarker, sessionMarker } from "./caching-provider.ts";

export type Json = Record<string, unknown>;
export type CallKind = "user" | "tool_result";
export type ReplayCall = { kind: CallKind; path: "/v1/messages" | "/v1/responses"; body: Json; gapMs: number };
export type ReplaySession = { id: string; source: "claude-code" | "aider" | "responses"; calls: () => Iterable<ReplayCall> };

/** The profiles' largest prompts (up to 502k tokens) are cut here: every registry tier must be able to hold a call. */
export const MOST_PROMPT_TOKENS = 150_000;
const LEAST_NEW_TOKENS = 50;
/** A prompt at least this share of the previous one keeps its history (Aider's rounding moves counts by up to 10%); a smaller one starts over. */
const KEPT_SHARE = 0.9;

/**
 * The profiles, used in place: `AGENT_SESSIONS_FILE`, else shared/bench/agent-sessions/ beside
 * the checkout or a folder above it, else beside the repository a local clone was made from
 * (`git clone . /tmp/x/p` puts the clone far from the shared folder its origin sits beside).
 */
export function sessionsFile(): string {
  if (process.env.AGENT_SESSIONS_FILE) return process.env.AGENT_SESSIONS_FILE;
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const tried: string[] = [];
  for (const start of [dirname(root), localOrigin(root)]) {
    for (let dir = start; dir !== undefined; dir = dir === dirname(dir) ? undefined : dirname(dir)) {
      const file = `${dir}/shared/bench/agent-sessions/sessions.jsonl`;
      if (existsSync(file)) return file;
      tried.push(file);
    }
  }
  throw new Error(`no agent session profiles: set AGENT_SESSIONS_FILE (tried ${tried.join(", ")})`);
}

/** The folder holding the repository this checkout was cloned from, when that is a folder on this machine. */
function localOrigin(root: string): string | undefined {
  try {
    const url = execFileSync("git", ["-C", root, "config", "--get", "remote.origin.url"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return url.startsWith("/") ? dirname(url.replace(/\/$/, "")) : undefined;
  } catch {
    return undefined;
  }
}

export const EPHEMERAL = { type: "ephemeral" } as const;

/**
 * A call's instruction to the fake provider (its answer's length, its tool call) where a user's
 * turn carries it: a text block of its own, in Claude Code's `<system-reminder>` form, which the
 * scorer reads as context, as it reads the CLI's own reminders. Inside the user's words it would
 * score as part of the task, which no real request asks.
 */
export const markerBlock = (marker: string, type: "text" | "input_text" = "text"): Json => ({ type, text: `<system-reminder>${marker}</system-reminder>` });

/** What Aider answers for the model after the files it adds to the chat (its `chat_files` messages). */
const FILES_ACKNOWLEDGED = "Ok, any changes I propose will be to those files.";

/**
 * Simulated time before a call: 5-20 s after a tool's result (the agent runs the tool), and after
 * a user's answer 1 to 7 minutes, one in five past Anthropic's 5-minute TTL (the user read, thought,
 * went for coffee). No timings are recorded in the profiles; these are stated, not measured.
 */
export function gapBefore(kind: CallKind, index: number): number {
  if (index === 0) return 0;
  if (kind === "tool_result") return 5_000 + (index % 4) * 5_000;
  return [60, 90, 150, 240, 420][index % 5]! * 1_000;
}

const CODE = [
  "export function total(items: { price: number; qty: number }[]): number {",
  "  let sum = 0;",
  "  for (const item of items) sum += item.price * item.qty;",
  "  return sum;",
  "}",
  "import { describe, expect, it } from 'vitest';",
  "describe('cart', () => { it('adds prices', () => expect(total([])).toBe(0)); });",
  "const discounted = (price: number, rate: number): number => Math.round(price * (1 - rate) * 100) / 100;",
];

/** About `tokens` tokens (four characters each) of numbered code lines, headed by `label` so no two are alike. */
export function filler(label: string, tokens: number): string {
  const chars = Math.max(0, tokens * 4);
  const lines = [label];
  let length = label.length;
  for (let n = 1; length < chars; n++) {
    const line = `${n}\t${CODE[n % CODE.length]}`;
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n").slice(0, chars);
}

/** A copy of the messages with a breakpoint on the last block of the last message only, as Claude Code sends them. */
export function withLastBreakpoint(messages: readonly Json[]): Json[] {
  const last = messages.at(-1);
  if (last === undefined) return [];
  const content = typeof last.content === "string" ? [{ type: "text", text: last.content }] : [...(last.content as Json[])];
  content[content.length - 1] = { ...content.at(-1)!, cache_control: EPHEMERAL };
  return [...messages.slice(0, -1), { ...last, content }];
}

type Profile = {
  id: string;
  turns: { kind: CallKind; input_tokens: number; cache_read_tokens: number | null; cache_write_tokens: number | null; output_tokens: number }[];
};

export function readProfiles(): Profile[] {
  return readFileSync(sessionsFile(), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Profile);
}

/** What a user asks of a coding agent, in turn (the profiles keep no text). */
export const TASKS = [
  "Fix the failing test in src/cart.ts and explain the cause.",
  "Add a discount parameter to total() and update its callers.",
  "Refactor the pricing module into smaller functions and write tests for each.",
  "Why does the CSV export time out for large reports? Find the cause and fix it.",
  "Rename qty to quantity across the codebase.",
];

const RUN_TOOL = {
  name: "run",
  description: "Run a shell command in the repository",
  input_schema: { type: "object", properties: { command: { type: "string" } } },
};
/** An Aider session's id: its own group (`a1de…`), apart from the Claude Code sessions' (`…-8000-…`), so no two replayed sessions share one. */
const uuidOf = (n: number): string => `00000000-0000-4000-a1de-${n.toString(16).padStart(12, "0")}`;

/** An Aider profile as Messages calls: prompts of the recorded sizes, answers of the recorded lengths. */
export function aiderSession(profile: Profile, number: number): ReplaySession {
  const id = profile.id;
  return { id, source: "aider", calls: () => aiderCalls(profile, number) };
}

function* aiderCalls(profile: Profile, number: number): Generator<ReplayCall> {
  const id = profile.id;
  const sizes = profile.turns.map((t) =>
    Math.min(MOST_PROMPT_TOKENS, Math.max(300, t.input_tokens + (t.cache_read_tokens ?? 0) + (t.cache_write_tokens ?? 0))),
  );
  const systemTokens = Math.min(1_200, Math.floor(sizes[0]! * 0.4));
  const system = [{ type: "text", text: `${sessionMarker(id)}\n${filler(`Aider's system prompt (${id})`, systemTokens)}`, cache_control: EPHEMERAL }];
  const head = {
    model: "claude-sonnet-4-5",
    max_tokens: 8_192,
    system,
    tools: [RUN_TOOL],
    metadata: { user_id: `user_${id}_account__session_${uuidOf(number)}` },
  };
  const toolId = (i: number): string => `toolu_${id}_${i}`;
  let messages: Json[] = [];
  let size = systemTokens;
  for (const [i, turn] of profile.turns.entries()) {
    const previous = profile.turns[i - 1];
    const tool = turn.kind === "tool_result";
    if (previous !== undefined && sizes[i]! >= KEPT_SHARE * size) {
      // The history is kept. Aider rounds its counts ("12k"), so the answer is cut to what the next prompt has room for.
      const answer = Math.max(10, Math.min(previous.output_tokens, sizes[i]! - size - LEAST_NEW_TOKENS));
      const said = { type: "text", text: filler(`answer ${id} ${i - 1}`, answer) };
      const use = { type: "tool_use", id: toolId(i - 1), name: "run", input: { command: "npm test" } };
      messages.push({ role: "assistant", content: tool ? [said, use] : [said] });
      size += answer;
    } else if (previous !== undefined) {
      // The context shrank (files dropped from the chat, history summarised): only the system prompt is as before.
      messages = [{ role: "user", content: [{ type: "text", text: filler(`summary ${id} ${i}`, 100) }] }];
      if (tool) messages.push({ role: "assistant", content: [{ type: "tool_use", id: toolId(i - 1), name: "run", input: { command: "npm test" } }] });
      size = systemTokens + 120;
    }
    const next = profile.turns[i + 1];
    const marker = answerMarker(turn.output_tokens, next?.kind === "tool_result" ? { name: "run", id: toolId(i) } : undefined);
    const room = Math.max(LEAST_NEW_TOKENS, sizes[i]! - size);
    if (tool && messages.length > 0) {
      messages.push({
        role: "user",
        content: [{ type: "tool_result", tool_use_id: toolId(i - 1), content: `${filler(`output ${id} ${i}`, room)}\n${marker}` }],
      });
    } else {
      // As Aider sends a turn: the files in the chat as a user message the model acknowledges, then the request.
      messages.push(
        { role: "user", content: [{ type: "text", text: filler(`files ${id} ${i}`, room - 40) }] },
        { role: "assistant", content: [{ type: "text", text: FILES_ACKNOWLEDGED }] },
        { role: "user", content: [{ type: "text", text: TASKS[i % TASKS.length] }, markerBlock(marker)] },
      );
    }
    size += room;
    yield {
      kind: tool && messages.length > 1 ? "tool_result" : "user",
      path: "/v1/messages",
      body: { ...head, messages: withLastBreakpoint(messages) },
      gapMs: gapBefore(turn.kind, i),
    };
  }
}

/** A Codex-like session through `/v1/responses`: instructions, a shell tool, a tool loop to `targetTokens`, `prompt_cache_key`. */
export function responsesSession(targetTokens: number): ReplaySession {
  const id = "codex-1";
  return { id, source: "responses", calls: () => responsesCalls(id, targetTokens) };
}

function* responsesCalls(id: string, targetTokens: number): Generator<ReplayCall> {
  const instructions = `${sessionMarker(id)}\n${filler("You are a coding agent running in the user's terminal.", 3_000)}`;
  const tools = [
    {
      type: "function",
      name: "shell",
      description: "Run a command",
      parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
    },
  ];
  const head = { model: "auto", instructions, tools, prompt_cache_key: id, max_output_tokens: 4_096, store: false };
  const input: Json[] = [];
  let size = 3_100;
  for (let i = 0; size < targetTokens; i++) {
    const user = i % 8 === 0;
    const callId = (n: number): string => `call_${id}_${n}`;
    // The answer is a tool call when the next call returns its result; a text before a new user turn, and at the end.
    const toolNext = (i + 1) % 8 !== 0 && size + 2_500 < targetTokens;
    const marker = answerMarker(toolNext ? 60 : 300, toolNext ? { name: "shell", id: callId(i) } : undefined);
    if (user) {
      if (i > 0) input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: filler(`answer ${id} ${i}`, 300) }] });
      input.push({ type: "message", role: "user", content: [{ type: "input_text", text: TASKS[(i / 8) % TASKS.length] }, markerBlock(marker, "input_text")] });
      size += 320;
    } else {
      input.push({ type: "function_call", call_id: callId(i - 1), name: "shell", arguments: '{"command":"ls"}' });
      input.push({ type: "function_call_output", call_id: callId(i - 1), output: `${filler(`output ${id} ${i}`, 2_000)}\n${marker}` });
      size += 2_060;
    }
    yield {
      kind: user ? "user" : "tool_result",
      path: "/v1/responses",
      body: { ...head, input: [...input] },
      gapMs: gapBefore(user ? "user" : "tool_result", i),
    };
  }
}
