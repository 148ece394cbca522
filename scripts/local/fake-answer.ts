/**
 * What the fake provider answers: plain text, a tool call when the request offers
 * tools, or JSON when it asks for JSON mode or structured output, with values made
 * from the JSON schema it was given (for JSON mode, the one its instruction writes out).
 */

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; enum?: unknown[]; required?: string[]; anyOf?: Schema[] };
type Tool = { type?: string; function?: { name?: string; parameters?: Schema } };

export type FakeAnswer = { kind: "text"; content: string } | { kind: "tool_call"; id: string; name: string; arguments: string };

/** The answer for a chat body: `words` are the plain answer's tokens. */
export function fakeAnswer(body: Record<string, unknown>, words: string[]): FakeAnswer {
  const chosen = chosenTool(body);
  if (chosen !== undefined) {
    // As a model calls a tool: what the prompt gave, and the required rest; no optional flags of its own.
    const sampled = sample(chosen.tool.function?.parameters ?? {}, { requiredOnly: true });
    const input = typeof sampled === "object" && sampled !== null && !Array.isArray(sampled) ? { ...sampled, ...chosen.arguments } : sampled;
    return { kind: "tool_call", id: `call_fake${Date.now().toString(36)}`, name: chosen.tool.function?.name ?? "tool", arguments: JSON.stringify(input) };
  }
  const format = body.response_format as { type?: string; json_schema?: { schema?: Schema } } | undefined;
  if (format?.type === "json_schema") return { kind: "text", content: JSON.stringify(sample(format.json_schema?.schema ?? { type: "object" })) };
  if (format?.type === "json_object") {
    // JSON mode's schema is in the instruction (instructor's JSON mode writes it into the system prompt).
    const instructed = instructedSchema(Array.isArray(body.messages) ? (body.messages as Message[]) : []);
    return { kind: "text", content: JSON.stringify(instructed === undefined ? { answer: words.join("") } : sample(instructed)) };
  }
  return { kind: "text", content: words.join("") };
}

type Message = { role?: string; content?: unknown };

/**
 * The tool the model "decides" to call, as a model an agent can finish with would: the
 * one `tool_choice` names (or, for "required", the one the prompt points at, else the
 * first); otherwise one the prompt asks for, by "use the <name> tool" (its arguments may
 * follow as "with {json}") or by a word of its name ("weather" for get_weather). None
 * after a tool's result (the last message is one), none for `tool_choice: "none"`.
 */
function chosenTool(body: Record<string, unknown>): { tool: Tool; arguments: Record<string, unknown> } | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Tool[]) : [];
  const messages = Array.isArray(body.messages) ? (body.messages as Message[]) : [];
  const choice = body.tool_choice as string | { function?: { name?: string } } | undefined;
  if (tools.length === 0 || choice === "none") return undefined;
  const named = typeof choice === "object" ? choice.function?.name : undefined;
  if (named !== undefined) return { tool: tools.find((tool) => tool.function?.name === named) ?? tools[0]!, arguments: {} };
  const forced = choice === "required";
  if (messages.at(-1)?.role === "tool" && !forced) return undefined;
  const prompt = lastUserText(messages);
  const asked = /use the ([\w-]+) tool(?: with (\{[\s\S]*\}))?/i.exec(prompt);
  if (asked !== undefined && asked !== null) {
    const tool = tools.find((t) => t.function?.name?.toLowerCase() === asked[1]!.toLowerCase());
    if (tool !== undefined) return { tool, arguments: parseArguments(asked[2]) };
  }
  const words = new Set(prompt.toLowerCase().match(/[a-z]{4,}/g) ?? []);
  const pointed = tools.find((tool) => nameWords(tool.function?.name ?? "").some((word) => words.has(word)));
  if (pointed !== undefined) return { tool: pointed, arguments: {} };
  return forced ? { tool: tools[0]!, arguments: {} } : undefined;
}

/** The last user message's text, without an agent client's `<system-reminder>` blocks (Claude Code's notifications). */
function lastUserText(messages: readonly Message[]): string {
  const last = [...messages].reverse().find((message) => message.role === "user");
  const text =
    typeof last?.content === "string"
      ? last.content
      : Array.isArray(last?.content)
        ? (last.content as { type?: string; text?: string }[]).map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("\n")
        : "";
  return text.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, "");
}

/** The first JSON schema (an object with `properties`) written out in the messages' text, the system's first. */
function instructedSchema(messages: readonly Message[]): Schema | undefined {
  const ordered = [...messages.filter((m) => m.role === "system" || m.role === "developer"), ...messages.filter((m) => m.role === "user")];
  for (const message of ordered) {
    const text = typeof message.content === "string" ? message.content : lastUserText([{ role: "user", content: message.content }]);
    for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
      const candidate = parseArguments(balancedObject(text, start)) as Schema;
      if (candidate.properties !== undefined) return candidate;
    }
  }
  return undefined;
}

/** The `{…}` that opens at `start`, braces inside JSON strings aside ("" when it never closes). */
function balancedObject(text: string, start: number): string {
  let depth = 0;
  let quoted = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === "\\") i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) return text.slice(start, i + 1);
  }
  return "";
}

/** The words of a tool's name: get_weather → get, weather; readFile → read, file (four letters or more count). */
const nameWords = (name: string): string[] =>
  name
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((word) => word.length >= 4);

function parseArguments(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text === "") return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * A value that satisfies the schema: every property present (or, `requiredOnly`, the
 * required ones), the first enum value, placeholders by type.
 */
export function sample(schema: Schema, options: { requiredOnly?: boolean } = {}): unknown {
  if (schema.enum !== undefined && schema.enum.length > 0) return schema.enum[0];
  if (schema.anyOf !== undefined && schema.anyOf.length > 0) return sample(schema.anyOf[0]!, options);
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
      return schema.items ? [sample(schema.items, options)] : [];
    case "null":
      return null;
    default: {
      const properties = Object.entries(schema.properties ?? {}).filter(([name]) => options.requiredOnly !== true || schema.required?.includes(name) === true);
      return Object.fromEntries(properties.map(([name, child]) => [name, sample(child, options)]));
    }
  }
}

/** Splits text into pieces of at most `size` characters, as a provider streams a tool call's arguments. */
export function pieces(text: string, size = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [""] : out;
}
