import { describe, expect, it } from "vitest";
import { asksOneHourCache, type CanonicalRequest, type Message } from "../../src/canonical/request.ts";
import { ApiError } from "../../src/http/errors.ts";
import { claudeCodeSession, continuesConversation, isToolContinuation, namedSession, SESSION_ID_MAX_CHARS, sessionKeyOf } from "../../src/routing/session.ts";

const turns = (...messages: Message[]): CanonicalRequest => ({ model: "auto", messages }) as CanonicalRequest;
const base = turns({ role: "system", content: "You are terse." }, { role: "user", content: "list the files" });
const acme = { tenant: "acme", key: null };
const globex = { tenant: "globex", key: null };
const headers = (init: Record<string, string> = {}): Headers => new Headers(init);

describe("the session key", () => {
  it("takes x-session-id before prompt_cache_key before Claude Code's session before the conversation's start", async () => {
    const withAll = { ...base, prompt_cache_key: "pck-1", user: "user_abc_account_1111_session_5f0c2a7e-0000-4000-8000-000000000001" } as CanonicalRequest;
    expect(namedSession(withAll, headers({ "x-session-id": "s-1" }))).toEqual({ source: "header", value: "s-1" });
    expect(namedSession(withAll, headers())).toEqual({ source: "prompt_cache_key", value: "pck-1" });
    const { prompt_cache_key: _, ...claudeOnly } = withAll as CanonicalRequest & { prompt_cache_key: string };
    expect(namedSession(claudeOnly as CanonicalRequest, headers())).toEqual({ source: "claude_code", value: "5f0c2a7e-0000-4000-8000-000000000001" });
    expect(namedSession(base, headers())).toBeUndefined();
    expect((await sessionKeyOf(base, headers(), acme)).source).toBe("derived");
  });

  it("reads both shapes of Claude Code's metadata.user_id, and nothing from a plain user", () => {
    const json = JSON.stringify({ device_id: "d".repeat(64), account_uuid: "", session_id: "00000000-0000-0000-0000-00000000abcd" });
    expect(claudeCodeSession(json)).toBe("00000000-0000-0000-0000-00000000abcd");
    expect(claudeCodeSession("user_9f8e_account_2b3c4d5e-0000-4000-8000-000000000000_session_6a7b8c9d-0000-4000-8000-000000000000")).toBe(
      "6a7b8c9d-0000-4000-8000-000000000000",
    );
    expect(claudeCodeSession("alice")).toBeUndefined();
    expect(claudeCodeSession("{not json")).toBeUndefined();
    expect(claudeCodeSession(JSON.stringify({ device_id: "x" }))).toBeUndefined();
  });

  it("is a digest: 32 hex characters, never the raw value, the same for the same session", async () => {
    const one = await sessionKeyOf(base, headers({ "x-session-id": "my-secret-session" }), acme);
    const again = await sessionKeyOf(turns({ role: "user", content: "other" }), headers({ "x-session-id": "my-secret-session" }), acme);
    expect(one.digest).toMatch(/^[0-9a-f]{32}$/);
    expect(one.digest).not.toContain("secret");
    expect(again.digest).toBe(one.digest);
    // The same id, whichever way it came, is one session.
    expect((await sessionKeyOf({ ...base, prompt_cache_key: "my-secret-session" } as CanonicalRequest, headers(), acme)).digest).toBe(one.digest);
  });

  it("is scoped to the caller: two tenants (or two keys) with the same id have two sessions", async () => {
    const sent = headers({ "x-session-id": "shared-id" });
    const a = await sessionKeyOf(base, sent, acme);
    expect((await sessionKeyOf(base, sent, globex)).digest).not.toBe(a.digest);
    expect((await sessionKeyOf(base, sent, { tenant: null, key: "k1" })).digest).not.toBe((await sessionKeyOf(base, sent, { tenant: null, key: "k2" })).digest);
  });

  it("derives one session for every turn of a conversation, and another for another start", async () => {
    const first = await sessionKeyOf(base, headers(), acme);
    const later = turns(...base.messages, { role: "assistant", content: "a.ts b.ts" }, { role: "user", content: "open a.ts" });
    expect((await sessionKeyOf(later, headers(), acme)).digest).toBe(first.digest);
    const otherSystem = turns({ role: "system", content: "You are verbose." }, { role: "user", content: "list the files" });
    expect((await sessionKeyOf(otherSystem, headers(), acme)).digest).not.toBe(first.digest);
    const withTools = { ...base, tools: [{ type: "function", function: { name: "ls" } }] } as CanonicalRequest;
    expect((await sessionKeyOf(withTools, headers(), acme)).digest).not.toBe(first.digest);
  });

  it(`refuses an x-session-id over ${SESSION_ID_MAX_CHARS} characters with a 400 naming the header`, async () => {
    await expect(sessionKeyOf(base, headers({ "x-session-id": "x".repeat(SESSION_ID_MAX_CHARS) }), acme)).resolves.toBeDefined();
    const refused = await sessionKeyOf(base, headers({ "x-session-id": "x".repeat(SESSION_ID_MAX_CHARS + 1) }), acme).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(400);
    expect((refused as ApiError).param).toBe("x-session-id");
  });
});

describe("the last turn", () => {
  const call = { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "ls", arguments: "{}" } }] } as Message;
  const result = { role: "tool", tool_call_id: "t1", content: "a.ts" } as Message;
  const image = { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA" } }] } as Message;

  it("is a tool-result continuation when it holds only tool results, perhaps followed by the images the surface moved out of them", () => {
    expect(isToolContinuation([...base.messages, call, result])).toBe(true);
    expect(isToolContinuation([...base.messages, call, result, image])).toBe(true);
  });

  it("is a new user turn when the user wrote something", () => {
    expect(isToolContinuation(base.messages)).toBe(false);
    expect(isToolContinuation([...base.messages, call, result, { role: "user", content: "now fix it" }])).toBe(false);
    expect(isToolContinuation([...base.messages, call, result, { role: "user", content: [{ type: "text", text: "and?" }] } as Message])).toBe(false);
  });

  it("continues a conversation once an answer is in it", () => {
    expect(continuesConversation(base.messages)).toBe(false);
    expect(continuesConversation([...base.messages, call, result])).toBe(true);
  });
});

describe("the cache's life", () => {
  it("is an hour when any breakpoint asks for one, five minutes otherwise", () => {
    const hour = turns({ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }] } as Message);
    const five = turns({ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] } as Message);
    expect(asksOneHourCache(hour)).toBe(true);
    expect(asksOneHourCache(five)).toBe(false);
    expect(asksOneHourCache(base)).toBe(false);
    const onTool = { ...base, tools: [{ type: "function", function: { name: "ls" }, cache_control: { type: "ephemeral", ttl: "1h" } }] } as CanonicalRequest;
    expect(asksOneHourCache(onTool)).toBe(true);
    // A text that merely says so is no breakpoint.
    expect(asksOneHourCache(turns({ role: "user", content: '{"cache_control":{"ttl":"1h"}}' }))).toBe(false);
    // The request's own mark asks it for every block.
    expect(asksOneHourCache({ ...base, cache_control: { type: "ephemeral", ttl: "1h" } } as CanonicalRequest)).toBe(true);
  });
});
