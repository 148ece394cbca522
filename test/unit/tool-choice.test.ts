/**
 * A forced tool call no answer could keep is a 400 naming the field on every surface, not
 * a 200 without the call: Chat Completions in its schema (chat-property.test.ts), and here
 * the Messages and Responses surfaces, whose requests are built rather than parsed by it.
 */
import { describe, expect, it } from "vitest";
import { anthropicMessagesSurface } from "../../src/surfaces/anthropic-messages/index.ts";
import { ResponsesRequestSchema, toCanonical } from "../../src/surfaces/openai-responses/request.ts";
import { refusal } from "../support/refusal.ts";

const LIMITS = { maxBodyBytes: 1_000_000, messagesMaxTokens: 32_000 };
const messages = (body: Record<string, unknown>) =>
  anthropicMessagesSurface.parse(
    new Request("http://router/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: "hi" }], ...body }),
    }),
    LIMITS,
  );
const responses = async (body: Record<string, unknown>) => toCanonical(ResponsesRequestSchema.parse({ model: "auto", input: "hi", ...body }));
const anthropicTool = { name: "read_file", input_schema: { type: "object" } };
const functionTool = { type: "function", name: "read_file", parameters: { type: "object" } };

describe("a forced tool call the tools cannot make", () => {
  it("is a 400 on Messages: `any` or a named tool with no tools, or a name not among them", async () => {
    for (const tool_choice of [{ type: "any" }, { type: "tool", name: "read_file" }]) {
      const error = await refusal(messages({ tool_choice }));
      expect(error).toMatchObject({ status: 400, param: "tool_choice" });
      expect(error.message).toMatch(/no 'tools'/);
    }
    const named = await refusal(messages({ tools: [anthropicTool], tool_choice: { type: "tool", name: "write_file" } }));
    expect(named).toMatchObject({ status: 400, param: "tool_choice.name" });
    expect(named.message).toMatch(/'write_file'/);
  });

  it("is a 400 on Responses: `required` or a named function with no tools, or a name not among them", async () => {
    for (const tool_choice of ["required", { type: "function", name: "read_file" }]) {
      expect(await refusal(responses({ tool_choice }))).toMatchObject({ status: 400, param: "tool_choice" });
    }
    expect(await refusal(responses({ tools: [functionTool], tool_choice: { type: "function", name: "write_file" } }))).toMatchObject({
      status: 400,
      param: "tool_choice.name",
    });
  });

  it("is kept where the tools can make it, and `auto` and `none` need no tools", async () => {
    expect((await messages({ tools: [anthropicTool], tool_choice: { type: "any" } })).request.tool_choice).toBe("required");
    expect((await messages({ tool_choice: { type: "auto" } })).request.tool_choice).toBe("auto");
    expect((await responses({ tools: [functionTool], tool_choice: { type: "function", name: "read_file" } })).request.tool_choice).toEqual({
      type: "function",
      function: { name: "read_file" },
    });
    expect((await responses({ tool_choice: "none" })).request.tool_choice).toBe("none");
  });
});
