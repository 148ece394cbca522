/** A Messages request's breakpoints as the surface reads them: how many it may set. */
import { MAX_BREAKPOINTS, tooManyBreakpoints } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";

type Marked = { cache_control?: unknown };
type Body = {
  tools?: Marked[] | undefined;
  system?: string | Marked[] | undefined;
  messages: { content: string | (Marked & { type: string; content?: unknown })[] }[];
};

/**
 * A Messages request's breakpoints, in the order Anthropic caches the prompt (tools,
 * system, messages, a tool result's blocks after the result's own), are at most
 * MAX_BREAKPOINTS: a fifth is refused, naming it, as Anthropic refuses it, whatever model
 * the request is routed to. Keeping four instead would choose silently which prefix
 * the client stops caching.
 */
export function refuseBreakpointsPastLimit(body: Body): void {
  const paths: string[] = [];
  const mark = (block: Marked | undefined, path: string): void => {
    if (block?.cache_control) paths.push(`${path}.cache_control`);
  };
  for (const [t, tool] of (body.tools ?? []).entries()) mark(tool, `tools[${t}]`);
  if (Array.isArray(body.system)) for (const [b, block] of body.system.entries()) mark(block, `system[${b}]`);
  for (const [m, message] of body.messages.entries()) {
    if (typeof message.content === "string") continue;
    for (const [b, block] of message.content.entries()) {
      mark(block, `messages[${m}].content[${b}]`);
      if (block.type !== "tool_result" || !Array.isArray(block.content)) continue;
      for (const [i, part] of (block.content as Marked[]).entries()) mark(part, `messages[${m}].content[${b}].content[${i}]`);
    }
  }
  const past = paths[MAX_BREAKPOINTS];
  if (past !== undefined) throw new ApiError(400, `'${past}': ${tooManyBreakpoints}`, { param: past });
}
