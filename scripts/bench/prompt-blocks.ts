/**
 * A request body as the content blocks a provider's cache sees, in its reading order (tools,
 * system, messages), with the breakpoints it carries: OpenAI Chat bodies as OpenRouter receives
 * them (what the router sends), and Anthropic Messages and OpenAI Responses bodies (what an agent
 * sends a provider directly). A block's text names its kind, so a tool's result and a user's
 * text of the same words are not the same prefix.
 */
import type { Block, Ttl } from "./prompt-cache.ts";

type Json = Record<string, unknown>;

/** `cache_control`'s TTL, or none: Anthropic's default is 5 minutes; an unknown TTL is not a breakpoint. */
export function breakpointOf(part: unknown): Ttl | undefined {
  const control = (part as { cache_control?: { type?: unknown; ttl?: unknown } } | null)?.cache_control;
  if (typeof control !== "object" || control === null || control.type !== "ephemeral") return undefined;
  if (control.ttl === undefined || control.ttl === "5m") return "5m";
  return control.ttl === "1h" ? "1h" : undefined;
}

const withoutControl = (part: Json): Json => {
  const { cache_control: _, ...rest } = part;
  return rest;
};

const textOf = (part: Json): string => (typeof part.text === "string" ? part.text : JSON.stringify(withoutControl(part)));

const toolBlocks = (tools: unknown): Block[] =>
  (Array.isArray(tools) ? (tools as Json[]) : []).map((tool) => ({ text: `tool\n${JSON.stringify(withoutControl(tool))}`, breakpoint: breakpointOf(tool) }));

/** An OpenAI Chat body, OpenRouter's way: text parts and tool definitions may carry `cache_control`. */
export function chatBlocks(body: Json): Block[] {
  const blocks = toolBlocks(body.tools);
  for (const message of Array.isArray(body.messages) ? (body.messages as Json[]) : []) {
    const role = String(message.role);
    const head = message.tool_call_id === undefined ? role : `${role} ${String(message.tool_call_id)}`;
    if (typeof message.content === "string" && message.content !== "") blocks.push({ text: `${head}\n${message.content}` });
    if (Array.isArray(message.content)) {
      for (const part of message.content as Json[]) blocks.push({ text: `${head}\n${textOf(part)}`, breakpoint: breakpointOf(part) });
    }
    for (const call of Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]) : []) {
      const fn = (call.function ?? {}) as Json;
      blocks.push({ text: `tool_call ${String(call.id)}\n${String(fn.name)} ${String(fn.arguments)}` });
    }
  }
  return blocks;
}

/** An Anthropic Messages body, as Anthropic reads it: tools, then system, then each content block. */
export function messagesBlocks(body: Json): Block[] {
  const blocks = toolBlocks(body.tools);
  if (typeof body.system === "string") blocks.push({ text: `system\n${body.system}` });
  for (const part of Array.isArray(body.system) ? (body.system as Json[]) : [])
    blocks.push({ text: `system\n${textOf(part)}`, breakpoint: breakpointOf(part) });
  for (const message of (body.messages ?? []) as Json[]) {
    const role = String(message.role);
    if (typeof message.content === "string") {
      blocks.push({ text: `${role}\n${message.content}` });
      continue;
    }
    for (const part of (message.content ?? []) as Json[]) {
      if (part.type === "tool_use") {
        blocks.push({ text: `tool_call ${String(part.id)}\n${String(part.name)} ${JSON.stringify(part.input)}`, breakpoint: breakpointOf(part) });
      } else if (part.type === "tool_result") {
        const content = typeof part.content === "string" ? part.content : ((part.content ?? []) as Json[]).map(textOf).join("");
        blocks.push({ text: `tool ${String(part.tool_use_id)}\n${content}`, breakpoint: breakpointOf(part) });
      } else {
        blocks.push({ text: `${role}\n${textOf(part)}`, breakpoint: breakpointOf(part) });
      }
    }
  }
  return blocks;
}

/** An OpenAI Responses body: tools, instructions, then each input item (Responses has no breakpoints). */
export function responsesBlocks(body: Json): Block[] {
  const blocks = toolBlocks(body.tools);
  if (typeof body.instructions === "string") blocks.push({ text: `system\n${body.instructions}` });
  const input = typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : ((body.input ?? []) as Json[]);
  for (const item of input) {
    if (item.type === "function_call") blocks.push({ text: `tool_call ${String(item.call_id)}\n${String(item.name)} ${String(item.arguments)}` });
    else if (item.type === "function_call_output") blocks.push({ text: `tool ${String(item.call_id)}\n${String(item.output)}` });
    else {
      const content = typeof item.content === "string" ? item.content : ((item.content ?? []) as Json[]).map(textOf).join("");
      blocks.push({ text: `${String(item.role)}\n${content}` });
    }
  }
  return blocks;
}
