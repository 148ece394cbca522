/**
 * Prompt-cache breakpoints as a target can carry them (pure): kept and moved for
 * Anthropic's models, placed by the router when the client set none, stripped for every
 * other model, whose providers may refuse a field they do not know.
 *
 * The rule for a move: a breakpoint the target cannot carry where it stands goes to the
 * nearest block *before* it that can (the block itself when it can), so what is cached is
 * always a prefix of what the client marked, never text it did not. In OpenAI's chat
 * format as OpenRouter passes it to Anthropic, parts carry breakpoints (text, images,
 * files) and so do tool definitions; a message does not. So a breakpoint on a message
 * (a tool_use block's, or one a client set on the message) goes on the message's last
 * part (a string content becomes one text part); a message with no part to carry it (an
 * assistant message of tool calls alone) passes it back to the nearest earlier message
 * that has one, and past the first message to the last tool definition.
 */
import { type CacheControl, type CanonicalRequest, longerBreakpoint, type Message } from "../canonical/request.ts";

type Tool = NonNullable<CanonicalRequest["tools"]>[number];
type Part = Record<string, unknown> & { type: string; cache_control?: CacheControl };
type Marked = { cache_control?: CacheControl };
type Marks = { messages: Message[]; tools?: Tool[] };

/** The part types a breakpoint may stand on at OpenRouter. */
const CARRIERS = new Set(["text", "image_url", "file"]);
/** Anthropic refuses a breakpoint on an empty text block. */
const canCarry = (part: Part): boolean => CARRIERS.has(part.type) && (part.type !== "text" || part.text !== "");
/** The router's own breakpoints: Anthropic's default 5 minutes, which every later call renews. */
const EPHEMERAL: CacheControl = { type: "ephemeral" };

/** Claude, wherever it is served (`anthropic/…` at OpenRouter, a Claude model elsewhere): it caches only at breakpoints. */
export const isAnthropicFamily = (upstreamModel: string): boolean => upstreamModel.startsWith("anthropic/") || /claude/i.test(upstreamModel);

/**
 * The messages and tools for an Anthropic-family target: the client's breakpoints kept,
 * moved where they cannot stand; where the client set none, the router's own, three at
 * most of Anthropic's four: on the last tool definition, on the last part of the system
 * prompt (the leading system messages), and on the last part of the last message. Each
 * call renews the cache up to its last message, which the next call reads back by
 * Anthropic's lookback.
 */
export function anthropicBreakpoints(request: Pick<CanonicalRequest, "messages" | "tools">): Marks {
  return isMarked(request) ? moveMessageMarks(request) : placeMarks(request);
}

/** The messages and tools with every breakpoint taken off (the request is left as it was). */
export function withoutBreakpoints(request: Pick<CanonicalRequest, "messages" | "tools">): Marks {
  const out: Marks = { messages: request.messages.some(messageIsMarked) ? request.messages.map(unmarkMessage) : request.messages };
  if (request.tools) out.tools = request.tools.some(isMarkedItself) ? request.tools.map(unmark) : request.tools;
  return out;
}

function placeMarks(request: Pick<CanonicalRequest, "messages" | "tools">): Marks {
  const messages = [...request.messages];
  const out: Marks = { messages };
  if (request.tools && request.tools.length > 0) {
    out.tools = [...request.tools];
    out.tools[out.tools.length - 1] = { ...out.tools[out.tools.length - 1]!, cache_control: EPHEMERAL };
  }
  let system = -1;
  while (system + 1 < messages.length && isSystem(messages[system + 1]!)) system += 1;
  if (system >= 0) markLastPart(messages, system, EPHEMERAL, out);
  if (messages.length - 1 !== system) markLastPart(messages, messages.length - 1, EPHEMERAL, out);
  return out;
}

function moveMessageMarks(request: Pick<CanonicalRequest, "messages" | "tools">): Marks {
  if (!request.messages.some(isMarkedItself)) return request.tools ? { messages: request.messages, tools: request.tools } : { messages: request.messages };
  const messages = [...request.messages];
  const out: Marks = request.tools ? { messages, tools: request.tools } : { messages };
  for (const [m, message] of request.messages.entries()) {
    const mark = (message as Marked).cache_control;
    if (!mark) continue;
    messages[m] = unmark(messages[m]!);
    markLastPart(messages, m, mark, out);
  }
  return out;
}

/**
 * Puts `mark` on the last part that can carry it, in message `from` or the nearest
 * earlier one; before the first message, on the last tool definition; with neither, the
 * breakpoint is dropped (nothing before it could be cached). `messages` and `out.tools`
 * are the call's own copies: a changed message or tool is replaced, never edited.
 */
function markLastPart(messages: Message[], from: number, mark: CacheControl, out: Marks): void {
  for (let m = from; m >= 0; m--) {
    const parts = partsOf(messages[m]!);
    let p = parts.length - 1;
    while (p >= 0 && !canCarry(parts[p]!)) p -= 1;
    if (p < 0) continue;
    parts[p] = { ...parts[p]!, cache_control: longerBreakpoint(parts[p]!.cache_control, mark) };
    messages[m] = { ...messages[m]!, content: parts } as Message;
    return;
  }
  if (out.tools && out.tools.length > 0) {
    const tools = [...out.tools];
    const last = tools[tools.length - 1]!;
    tools[tools.length - 1] = { ...last, cache_control: longerBreakpoint(last.cache_control, mark) };
    out.tools = tools;
  }
}

/** A message's content as a list of parts (a copy): a string is one text part, an empty one none. */
function partsOf(message: Message): Part[] {
  const content = message.content;
  if (Array.isArray(content)) return [...(content as Part[])];
  return typeof content === "string" && content !== "" ? [{ type: "text", text: content }] : [];
}

const isSystem = (message: Message): boolean => message.role === "system" || message.role === "developer";
const isMarkedItself = (item: object): boolean => (item as Marked).cache_control !== undefined;
const partsMarked = (message: Message): boolean => Array.isArray(message.content) && message.content.some(isMarkedItself);
const messageIsMarked = (message: Message): boolean => isMarkedItself(message) || partsMarked(message);

function isMarked(request: Pick<CanonicalRequest, "messages" | "tools">): boolean {
  return (request.tools ?? []).some(isMarkedItself) || request.messages.some(messageIsMarked);
}

function unmark<T extends object>(item: T): T {
  if (!isMarkedItself(item)) return item;
  const { cache_control: _, ...rest } = item as T & Marked;
  return rest as T;
}

function unmarkMessage(message: Message): Message {
  if (!messageIsMarked(message)) return message;
  const bare = unmark(message);
  return (Array.isArray(bare.content) ? { ...bare, content: (bare.content as Part[]).map(unmark) } : bare) as Message;
}
