/**
 * The Python `openai` SDK (test/e2e/python/requirements.txt) through the router: the
 * Responses API plain and streamed, a function-call round trip with
 * `function_call_output`, `text.format` with a JSON schema, `previous_response_id` then
 * retrieve and delete, and embeddings in float and in base64. Each case is one run of
 * test/e2e/python/openai_cases.py, which prints what the SDK gave back.
 */
import { describe, expect, it } from "vitest";
import { useClientStack } from "../support/clients.ts";
import { pythonWithClients, runPython } from "../support/python.ts";
import { uniquePrompt } from "../support/router.ts";

type Response = {
  class: string;
  id: string;
  status: string;
  output_text: string;
  output: string[];
  output_tokens: number | null;
  cache?: string;
  hash?: string;
};

const env = useClientStack({ before: pythonWithClients, timeoutMs: 360_000 });
const sdk = <T>(name: string): Promise<T> =>
  runPython<T>("test/e2e/python/openai_cases.py", [name], { TG_URL: env.router.url, TG_KEY: env.key, TG_PROMPT: uniquePrompt(name) });

describe("the Python openai SDK's Responses API", () => {
  it("creates a Response, and streams one", async () => {
    const plain = await sdk<Response>("create");
    expect(plain).toMatchObject({ class: "Response", status: "completed", output: ["message"], output_tokens: 8, cache: "MISS", hash: "cdd01ef066bc6cf2" });
    expect(plain.id).toMatch(/^resp_/);
    expect(plain.output_text).toContain("Fake token1");
    const streamed = await sdk<Response & { events: string[] }>("stream");
    expect(streamed.events[0]).toBe("response.created");
    expect(streamed.events.at(-1)).toBe("response.completed");
    expect(streamed.events.filter((event) => event === "response.output_text.delta")).toHaveLength(8);
    expect(streamed.output_text).toContain("Fake token1");
  });

  it("calls a function and continues from its output", async () => {
    const result = await sdk<{ call: { name: string; arguments: unknown }; first: Response; second: Response }>("tool_round_trip");
    expect(result.call).toEqual({ name: "get_weather", arguments: { city: "fake" } });
    expect(result.first.output).toEqual(["function_call"]);
    expect(result.second.output).toEqual(["message"]);
    const last = (env.fake.seen.at(-1)!.body.messages as { role: string; content: string }[]).at(-1)!;
    expect(last).toMatchObject({ role: "tool", content: '{"forecast": "sunny"}' });
  });

  it("answers text.format json_schema with JSON of the schema", async () => {
    const result = await sdk<Response & { parsed: unknown }>("json_schema");
    expect(result.parsed).toEqual({ city: "fake", population: 1 });
    expect(env.fake.seen[0]!.body.response_format).toMatchObject({ type: "json_schema" });
  });

  it("continues a stored response, retrieves, lists and deletes it", async () => {
    const result = await sdk<{ second: Response; fetched: boolean; input_items: number; after_delete: unknown }>("stored");
    expect(result.fetched).toBe(true);
    expect(result.input_items).toBe(1);
    expect(result.after_delete).toEqual({ class: "NotFoundError", status: 404 });
    // The continuation carried the first turn's history to the provider.
    expect((env.fake.seen.at(-1)!.body.messages as unknown[]).length).toBe(3);
  });
});

describe("the Python openai SDK's embeddings", () => {
  it("answers float and base64, the same vectors", async () => {
    const result = await sdk<{
      float: { count: number; length: number; first: number[]; tokens: number };
      base64: { kind: string; embedding: string; cache: string };
    }>("embeddings");
    expect(result.float).toMatchObject({ count: 2, length: 1536 });
    expect(result.float.tokens).toBeGreaterThan(0);
    expect(result.base64.kind).toBe("str");
    expect(result.base64.cache).toBe("HIT");
    const bytes = Buffer.from(result.base64.embedding, "base64");
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 4))).toEqual(result.float.first);
  });

  it("raises BadRequestError naming the parameter", async () => {
    const result = await sdk<{ class: string; status: number; body: { param: string } }>("bad_embedding");
    expect(result).toMatchObject({ class: "BadRequestError", status: 400, body: { param: "dimensions" } });
  });
});
