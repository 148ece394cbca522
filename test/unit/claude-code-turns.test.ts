/**
 * Where Claude Code's turns land, from its real requests (test/fixtures/claude-code, made
 * by `npm run capture:claude-code` from the real CLI): each turn repeats a 9,000-character
 * system prompt, reminders and twelve tool definitions, which are not the task. Each
 * fixture is read by the Messages surface and decided as the router decides it, aliases
 * included.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import { decideFor } from "../../src/engine/decision.ts";
import { NO_HEALTH } from "../../src/routing/pick.ts";
import { anthropicMessagesSurface } from "../../src/surfaces/anthropic-messages/index.ts";

const FIXTURES = "test/fixtures/claude-code";
const { claude_code: version, ...scaffold } = JSON.parse(readFileSync(`${FIXTURES}/scaffold.json`, "utf8")) as Record<string, unknown>;
const turns = JSON.parse(readFileSync(`${FIXTURES}/turns.json`, "utf8")) as Record<string, { path: string; messages: unknown[] }>;
const config = parseConfig({ GROQ_API_KEY: "gsk_x", OPENROUTER_API_KEY: "sk-or-x" });
const services = { config, breakers: { current: async () => undefined, routing: () => NO_HEALTH, callerRefusal: () => undefined } };

async function tierOf(name: string, extra: Record<string, unknown> = {}): Promise<{ tier: number; reasons: string[] }> {
  const turn = turns[name]!;
  const body = JSON.stringify({ ...scaffold, messages: turn.messages, ...extra });
  const { request } = await anthropicMessagesSurface.parse(
    new Request(`http://router${turn.path}`, { method: "POST", body, headers: { "content-type": "application/json" } }),
    config,
  );
  const decision = await decideFor(services, request, undefined);
  return { tier: decision.tier, reasons: decision.reasons };
}

describe(`Claude Code ${version}'s turns, scored by the turn and not its scaffold`, () => {
  it("sends the fixtures' scaffold as Claude Code does: a long system prompt, twelve tools, 128,000 max_tokens", () => {
    expect(JSON.stringify(scaffold.system).length).toBeGreaterThan(5_000);
    expect(scaffold.tools).toHaveLength(12);
    expect(scaffold.max_tokens).toBe(128_000);
    expect(scaffold.model).toMatch(/^claude-/);
  });

  it.each(["greeting", "read-file", "read-file-result", "command-result"])("routes the %s turn to tier 1-2", async (name) => {
    const { tier, reasons } = await tierOf(name);
    expect(tier, reasons.join("; ")).toBeLessThanOrEqual(2);
  });

  it("routes 'refactor this module and write its tests' to tier 4-5", async () => {
    const { tier, reasons } = await tierOf("refactor");
    expect(tier, reasons.join("; ")).toBeGreaterThanOrEqual(4);
  });

  it("keeps the small, fast model's requests at tier 2 or below, whatever they ask", async () => {
    const { tier, reasons } = await tierOf("refactor", { model: "claude-haiku-4-5" });
    expect(tier).toBeLessThanOrEqual(2);
    expect(reasons[0]).toMatch(/alias of auto, at most tier 2/);
    // The alias capped it, not the key (which has no highest tier here).
    expect(reasons.join("; ")).toMatch(/capped at tier 2 by the alias 'claude-\*haiku\*'/);
  });
});
