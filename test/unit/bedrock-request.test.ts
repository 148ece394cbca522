/** The canonical request as a Bedrock Converse body: blocks, tools, cache points, JSON answers, and what is refused by name. */
import { describe, expect, it } from "vitest";
import { type CanonicalRequest, CanonicalRequestSchema } from "../../src/canonical/request.ts";
import { ApiError } from "../../src/http/errors.ts";
import { converseBody } from "../../src/providers/bedrock/converse-request.ts";

const CLAUDE = "global.anthropic.claude-sonnet-5-v1:0";
const LLAMA = "meta.llama3-3-70b-instruct-v1:0";
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const request = (body: Record<string, unknown>): CanonicalRequest => CanonicalRequestSchema.parse(body);
const weather = {
  type: "function",
  function: { name: "get_weather", description: "The weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

function refusal(body: Record<string, unknown>, model = CLAUDE): ApiError {
  try {
    converseBody(request(body), model);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("not refused");
}

describe("converseBody", () => {
  it("keeps the system prompt apart, and a tool round trip as toolUse then toolResult in the user's turn", () => {
    const body = converseBody(
      request({
        model: "x",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Weather in Paris?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "tooluse_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
          },
          { role: "tool", tool_call_id: "tooluse_1", content: "18C" },
          { role: "user", content: "And tomorrow?" },
        ],
        tools: [weather],
        tool_choice: "auto",
        max_tokens: 100,
        temperature: 1.5,
        top_p: 0.9,
        stop: "END",
      }),
      LLAMA,
    );
    expect(body).toEqual({
      system: [{ text: "Be brief." }],
      messages: [
        { role: "user", content: [{ text: "Weather in Paris?" }] },
        { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_1", name: "get_weather", input: { city: "Paris" } } }] },
        { role: "user", content: [{ toolResult: { toolUseId: "tooluse_1", content: [{ text: "18C" }] } }, { text: "And tomorrow?" }] },
      ],
      inferenceConfig: { maxTokens: 100, temperature: 1.5, topP: 0.9, stopSequences: ["END"] },
      toolConfig: {
        tools: [{ toolSpec: { name: "get_weather", description: "The weather", inputSchema: { json: weather.function.parameters } } }],
        toolChoice: { auto: {} },
      },
    });
  });

  it("sends Claude a temperature of at most 1, and 'required' or a named function as any or tool", () => {
    const base = { model: "x", messages: [{ role: "user", content: "hi" }], tools: [weather], temperature: 1.7 };
    expect(converseBody(request({ ...base, tool_choice: "required" }), CLAUDE)).toMatchObject({
      inferenceConfig: { temperature: 1 },
      toolConfig: { toolChoice: { any: {} } },
    });
    expect(converseBody(request({ ...base, tool_choice: { type: "function", function: { name: "get_weather" } } }), CLAUDE)).toMatchObject({
      toolConfig: { toolChoice: { tool: { name: "get_weather" } } },
    });
    expect(converseBody(request({ ...base, tool_choice: "none" }), CLAUDE).toolConfig).toBeUndefined();
  });

  it("places cache points for Claude where the router puts breakpoints (tools, system, last message), none for other models", () => {
    const body = {
      model: "x",
      messages: [
        { role: "system", content: "Long rules." },
        { role: "user", content: "Question" },
      ],
      tools: [weather],
    };
    const claude = converseBody(request(body), CLAUDE);
    const point = { cachePoint: { type: "default" } };
    expect(claude.system).toEqual([{ text: "Long rules." }, point]);
    expect(claude.messages).toEqual([{ role: "user", content: [{ text: "Question" }, point] }]);
    expect((claude.toolConfig as { tools: unknown[] }).tools.at(-1)).toEqual(point);
    expect(JSON.stringify(converseBody(request(body), LLAMA))).not.toContain("cachePoint");
    const nova = converseBody(request(body), "us.amazon.nova-pro-v1:0");
    expect(nova.system).toEqual([{ text: "Long rules." }, point]);
    expect(JSON.stringify(nova.toolConfig)).not.toContain("cachePoint");
  });

  it("keeps the client's breakpoints and their hour as ttl 1h", () => {
    const body = converseBody(
      request({
        model: "x",
        messages: [
          { role: "system", content: [{ type: "text", text: "Rules", cache_control: { type: "ephemeral", ttl: "1h" } }] },
          { role: "user", content: "Question" },
        ],
      }),
      CLAUDE,
    );
    expect(body.system).toEqual([{ text: "Rules" }, { cachePoint: { type: "default", ttl: "1h" } }]);
    expect(body.messages).toEqual([{ role: "user", content: [{ text: "Question" }] }]);
  });

  it("sends images and PDFs as base64 bytes with their format", () => {
    const body = converseBody(
      request({
        model: "x",
        messages: [
          {
            role: "user",
            content: [
              { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL}` } },
              { type: "file", file: { filename: "Q3 report.pdf", file_data: "data:application/pdf;base64,JVBERi0x" } },
              { type: "text", text: "What is this?" },
            ],
          },
        ],
      }),
      LLAMA,
    );
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [
          { image: { format: "png", source: { bytes: PIXEL } } },
          { document: { format: "pdf", name: "Q3 report", source: { bytes: "JVBERi0x" } } },
          { text: "What is this?" },
        ],
      },
    ]);
  });

  it("asks a JSON schema as a forced structured_output tool, alone or with the client's tools", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const format = { type: "json_schema", json_schema: { name: "place", schema } };
    const alone = converseBody(request({ model: "x", messages: [{ role: "user", content: "Where?" }], response_format: format }), CLAUDE);
    expect(alone.toolConfig).toEqual({
      tools: [{ toolSpec: { name: "structured_output", description: expect.stringContaining("place"), inputSchema: { json: schema } } }],
      toolChoice: { tool: { name: "structured_output" } },
    });
    const withTools = converseBody(request({ model: "x", messages: [{ role: "user", content: "Where?" }], response_format: format, tools: [weather] }), LLAMA);
    expect(withTools.toolConfig).toMatchObject({ toolChoice: { any: {} } });
    expect((withTools.toolConfig as { tools: { toolSpec: { name: string } }[] }).tools.map((t) => t.toolSpec.name)).toEqual([
      "get_weather",
      "structured_output",
    ]);
  });

  it("refuses what Converse cannot carry with a 400 naming the field", () => {
    const byUrl = refusal({ model: "x", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] }] });
    expect([byUrl.status, byUrl.param]).toEqual([400, "messages[0].content[0].image_url.url"]);
    expect(byUrl.message).toMatch(/base64 data URLs/);
    expect(refusal({ model: "x", messages: [{ role: "user", content: "hi" }], n: 2 }).param).toBe("n");
    const audio = refusal({ model: "x", messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }] });
    expect(audio.param).toBe("messages[0].content[0].type");
    const fileId = refusal({ model: "x", messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] });
    expect(fileId.param).toBe("messages[0].content[0].file.file_data");
    const badArgs = refusal({
      model: "x",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", tool_calls: [{ id: "t", type: "function", function: { name: "get_weather", arguments: "[1]" } }] },
      ],
      tools: [weather],
    });
    expect(badArgs.param).toBe("messages[1].tool_calls[0].function.arguments");
  });
});
