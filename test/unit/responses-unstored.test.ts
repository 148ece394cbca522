/**
 * A Responses answer promises `store: true` only when the database took it (issue 36,
 * item 3): when the save fails (Postgres refusing a NUL the model wrote, or any outage),
 * the answer still goes out, JSON or streamed, and says `store: false`.
 */
import { describe, expect, it } from "vitest";
import type { Sql } from "../../src/storage/postgres.ts";
import { openAiResponsesSurface } from "../../src/surfaces/openai-responses/index.ts";
import { createResponseStore } from "../../src/surfaces/openai-responses/store.ts";

const LIMITS = { maxBodyBytes: 1_000_000, messagesMaxTokens: 4096 };
// As Neon answers an INSERT whose JSON holds `\u0000`; any other statement finds nothing.
const refusingNul: Sql = async (text, params = []) => {
  if (text.includes("INSERT") && params.some((param) => typeof param === "string" && param.includes("\\u0000"))) {
    throw new Error("NeonDbError: unsupported Unicode escape sequence");
  }
  return [];
};
const request = (body: unknown) =>
  new Request("http://router/v1/responses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const completion = (content: string) =>
  JSON.stringify({
    id: "c1",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  });
const chunks = (content: string) =>
  [
    { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content } }] },
    { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  ]
    .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
    .join("");

async function answered(content: string, stream: boolean): Promise<{ store: unknown; logged: unknown[] }> {
  const logged: unknown[] = [];
  const surface = openAiResponsesSurface(createResponseStore(refusingNul, "anonymous", 30), (error) => logged.push(error));
  const parsed = await surface.parse(request({ model: "auto", input: "hi", stream }), LIMITS);
  const answer = stream ? ({ kind: "replay", body: `${chunks(content)}data: [DONE]\n\n` } as const) : ({ kind: "json", text: completion(content) } as const);
  const { body } = await surface.render(answer, parsed);
  const text = typeof body === "string" ? body : await new Response(body).text();
  if (!stream) return { store: (JSON.parse(text) as { store: unknown }).store, logged };
  const completed = text.split("\n\n").find((event) => event.startsWith("event: response.completed"))!;
  return { store: (JSON.parse(/^data: (.*)$/m.exec(completed)![1]!) as { response: { store: unknown } }).response.store, logged };
}

describe("a response the database did not take", () => {
  for (const stream of [false, true]) {
    it(`says store: false, and is logged${stream ? ", streamed" : ""}`, async () => {
      const { store, logged } = await answered("a NUL: \u0000", stream);
      expect(store).toBe(false);
      expect(String(logged[0])).toContain("unsupported Unicode escape sequence");
    });

    it(`says store: true when it was stored${stream ? ", streamed" : ""}`, async () => {
      expect(await answered("fine", stream)).toEqual({ store: true, logged: [] });
    });
  }
});
