/**
 * What the fake provider answers: plain text, a tool call when the request offers
 * tools, or JSON when it asks for JSON mode or structured output, with values made
 * from the JSON schema it was given.
 */

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; enum?: unknown[]; required?: string[]; anyOf?: Schema[] };
type Tool = { type?: string; function?: { name?: string; parameters?: Schema } };

export type FakeAnswer = { kind: "text"; content: string } | { kind: "tool_call"; id: string; name: string; arguments: string };

/** The answer for a chat body: `words` are the plain answer's tokens. */
export function fakeAnswer(body: Record<string, unknown>, words: string[]): FakeAnswer {
  const tool = chosenTool(body);
  if (tool !== undefined) {
    return {
      kind: "tool_call",
      id: `call_fake${Date.now().toString(36)}`,
      name: tool.function?.name ?? "tool",
      arguments: JSON.stringify(sample(tool.function?.parameters ?? {})),
    };
  }
  const format = body.response_format as { type?: string; json_schema?: { schema?: Schema } } | undefined;
  if (format?.type === "json_schema") return { kind: "text", content: JSON.stringify(sample(format.json_schema?.schema ?? { type: "object" })) };
  if (format?.type === "json_object") return { kind: "text", content: JSON.stringify({ answer: words.join("") }) };
  return { kind: "text", content: words.join("") };
}

/** The tool the model "decides" to call: the one `tool_choice` names, else the first; none for `tool_choice: "none"`. */
function chosenTool(body: Record<string, unknown>): Tool | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Tool[]) : [];
  if (tools.length === 0 || body.tool_choice === "none") return undefined;
  const named = (body.tool_choice as { function?: { name?: string } } | undefined)?.function?.name;
  return tools.find((tool) => tool.function?.name === named) ?? tools[0];
}

/** A value that satisfies the schema: every property present, the first enum value, placeholders by type. */
export function sample(schema: Schema): unknown {
  if (schema.enum !== undefined && schema.enum.length > 0) return schema.enum[0];
  if (schema.anyOf !== undefined && schema.anyOf.length > 0) return sample(schema.anyOf[0]!);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      return "fake";
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return true;
    case "array":
      return schema.items ? [sample(schema.items)] : [];
    case "null":
      return null;
    default:
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, child]) => [name, sample(child)]));
  }
}

/** Splits text into pieces of at most `size` characters, as a provider streams a tool call's arguments. */
export function pieces(text: string, size = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [""] : out;
}
