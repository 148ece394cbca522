/**
 * Claude Code sessions for the agent bench, from the real CLI's captured requests
 * (test/fixtures/claude-code: its system prompt with two breakpoints, twelve tools, the
 * environment message, `metadata.user_id` naming the session), grown to the sizes real sessions
 * reach (28k-140k tokens a call) by tool loops whose results have the sizes recorded in
 * ../shared/bench/agent-sessions/sessions.jsonl, with a new user turn every eighth call.
 */
import { readFileSync } from "node:fs";
import { filler, gapBefore, type Json, markerBlock, type ReplayCall, type ReplaySession, readProfiles, TASKS, withLastBreakpoint } from "./agent-replay.ts";
import { answerMarker, sessionMarker } from "./caching-provider.ts";
import { tokensOf } from "./prompt-cache.ts";

const FIXTURES = new URL("../../test/fixtures/claude-code/", import.meta.url);
const USER_EVERY = 8;
/** Every Claude Code session's id starts so. */
export const CLAUDE_CODE_PREFIX = "claude-code-";

type Fixture = { path: string; messages: Json[] };

/** What a tool returned in the recorded sessions: each tool-result call's growth, between 300 and 6,000 tokens. */
export function toolResultSizes(): number[] {
  const sizes: number[] = [];
  for (const { turns } of readProfiles()) {
    for (const [i, turn] of turns.entries()) {
      const grown = turn.input_tokens - (turns[i - 1]?.input_tokens ?? turn.input_tokens);
      if (turn.kind === "tool_result" && grown > 0) sizes.push(Math.min(6_000, Math.max(300, grown)));
    }
  }
  return sizes;
}

/** Claude Code sessions growing to each of `targets` tokens a call. */
export function claudeCodeSessions(targets: readonly number[]): ReplaySession[] {
  const { claude_code: _, ...scaffold } = JSON.parse(readFileSync(new URL("scaffold.json", FIXTURES), "utf8")) as Json;
  const turns = JSON.parse(readFileSync(new URL("turns.json", FIXTURES), "utf8")) as Record<string, Fixture>;
  const sizes = toolResultSizes();
  return targets.map((target, n) => {
    const id = `${CLAUDE_CODE_PREFIX}${n + 1}`;
    return { id, source: "claude-code", calls: () => claudeCodeCalls(id, n, target, scaffold, turns, sizes) };
  });
}

function* claudeCodeCalls(id: string, n: number, target: number, scaffold: Json, turns: Record<string, Fixture>, sizes: number[]): Generator<ReplayCall> {
  const system = (scaffold.system as Json[]).map((block, i) => (i === 0 ? { ...block, text: `${String(block.text)} ${sessionMarker(id)}` } : block));
  const userId = JSON.parse(String((scaffold.metadata as Json).user_id)) as Json;
  const metadata = { user_id: JSON.stringify({ ...userId, session_id: `00000000-0000-4000-8000-${(n + 1).toString(16).padStart(12, "0")}` }) };
  const head = { ...scaffold, system, metadata };
  // The first user message holds the CLI's reminder and the task; the environment follows as a system message.
  const [opening, environment] = turns.refactor!.messages as [Json, Json];
  const reminder = (opening.content as Json[])[0]!;
  const envText = ((environment.content as Json[])[0] as { text: string }).text;
  let size = tokensOf(JSON.stringify(system)) + tokensOf(JSON.stringify(scaffold.tools)) + tokensOf(envText);
  const toolId = (i: number): string => `toolu_${id.replaceAll("-", "_")}_${i}`;
  const useOf = (i: number): Json =>
    i % 2 === 0
      ? { type: "tool_use", id: toolId(i), name: "Read", input: { file_path: `/work/project/src/module_${i}.ts` } }
      : { type: "tool_use", id: toolId(i), name: "Bash", input: { command: "npx vitest run", description: "Run the tests" } };
  const messages: Json[] = [];
  for (let i = 0; size < target; i++) {
    const user = i % USER_EVERY === 0;
    const toolNext = (i + 1) % USER_EVERY !== 0 && size + 3_000 < target;
    const marker = answerMarker(toolNext ? 120 : 400, toolNext ? { name: i % 2 === 0 ? "Read" : "Bash", id: toolId(i) } : undefined);
    if (user) {
      const task = [{ type: "text", text: TASKS[(i / USER_EVERY) % TASKS.length] }, markerBlock(marker)];
      if (i === 0) messages.push({ role: "user", content: [reminder, ...task] }, { role: "system", content: envText });
      else messages.push({ role: "assistant", content: [{ type: "text", text: filler(`answer ${id} ${i}`, 400) }] }, { role: "user", content: task });
      size += 420;
    } else {
      const grown = sizes[(n * 37 + i) % sizes.length]!;
      messages.push(
        { role: "assistant", content: [useOf(i - 1)] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolId(i - 1), content: `${filler(`output ${id} ${i}`, grown)}\n${marker}` }] },
      );
      size += grown + 40;
    }
    yield {
      kind: user ? "user" : "tool_result",
      path: "/v1/messages",
      body: { ...head, messages: withLastBreakpoint(messages) },
      gapMs: gapBefore(user ? "user" : "tool_result", i),
    };
  }
}
