/**
 * OpenAI's Responses API (`POST /v1/responses`): requests mapped into the canonical chat
 * request (request.ts), answers rendered as a Response object (response.ts) or as its
 * event stream (stream.ts), errors in OpenAI's shape, which its SDKs raise as their
 * typed errors. With a store (store.ts, with its copies in front: cached-store.ts), a
 * response is kept as it completes (unless `store: false`), before the client hears its
 * end, and `previous_response_id` continues the conversation a stored one ended.
 */
import type { Message } from "../../canonical/request.ts";
import { ApiError } from "../../http/errors.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { chatCompletionsSurface } from "../chat-completions/index.ts";
import { JSON_HEADERS, SSE_HEADERS, type Surface } from "../surface.ts";
import { canonicalStream } from "../translate-stream.ts";
import { ResponsesRequestSchema, toCanonical } from "./request.ts";
import { type ResponseShell, responseId, responseShell, toResponse } from "./response.ts";
import { couldNameStored, refuseUnstorable } from "./storable.ts";
import type { ResponseStore } from "./store.ts";
import { toResponseStream } from "./stream.ts";

/** Stores a completed response; false when no store took it (logged), so the answer says `store: false`. */
export type Save = (response: Record<string, unknown>) => Promise<boolean>;

/** What render needs of the request: the response's shell, and what to store when it completes. */
type Echo = { shell: ResponseShell; save: Save | undefined };

/**
 * The surface for one request. `store` is undefined when the router has no database:
 * nothing is stored then (the answer's `store` says false, `x-tiergate-dropped` says
 * "store"), and a continuation is refused.
 */
export function openAiResponsesSurface(store: ResponseStore | undefined, log: (error: unknown) => void): Surface {
  return {
    async parse(request, limits) {
      const body = await readJsonBody(request, limits.maxBodyBytes, ResponsesRequestSchema, { forProvider: true });
      const previous = body.previous_response_id ?? undefined;
      const stored = previous === undefined || !couldNameStored(previous) ? undefined : await store?.load(previous);
      if (previous !== undefined && stored === undefined) {
        throw new ApiError(404, `No stored response '${previous}' to continue`, { param: "previous_response_id", code: "not_found" });
      }
      const wanted = body.store !== false;
      if (wanted && store !== undefined) refuseUnstorable(body);
      const history = stored?.history ?? [];
      const { request: canonical, dropped, input } = toCanonical(body, history);
      const id = responseId();
      if (wanted && store === undefined) dropped.push("store");
      const shell = responseShell({ ...body, store: wanted && store !== undefined }, id);
      const inputItems = typeof body.input === "string" ? [{ type: "message", role: "user", content: [{ type: "input_text", text: body.input }] }] : body.input;
      const save: Save | undefined =
        wanted && store !== undefined
          ? (response) =>
              store.save(id, { response, inputItems: inputItems.map(withId), history: [...history, ...input, ...outputMessages(response)] }).then(
                () => true,
                // The client still gets its answer, saying `store: false`: it cannot be fetched or continued, and is logged.
                (error: unknown) => {
                  log(error);
                  return false;
                },
              )
          : undefined;
      return { request: canonical, dropped, echo: { shell, save } satisfies Echo, ...(save === undefined ? {} : { storedAs: id }) };
    },
    async render(answer, parsed) {
      const { shell, save } = parsed.echo as Echo;
      if (answer.kind === "json") {
        const response = toResponse(answer.text, shell);
        if (save !== undefined && !(await save(response))) response.store = false;
        return { body: JSON.stringify(response), contentType: JSON_HEADERS };
      }
      return { body: toResponseStream(canonicalStream(answer), shell, save), contentType: SSE_HEADERS };
    },
    // OpenAI's error shape and statuses, as Chat Completions answers them.
    errorBody: chatCompletionsSurface.errorBody,
    errorStatus: chatCompletionsSurface.errorStatus,
  };
}

/** An input item with an id, as OpenAI lists them (`item_…` for one sent without). */
function withId(item: Record<string, unknown>, i: number): Record<string, unknown> {
  return typeof item.id === "string" ? item : { id: `item_${i}_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`, ...item };
}

/** A response's output as the chat message that continues from it: its text and its calls. */
function outputMessages(response: Record<string, unknown>): Message[] {
  const output = (response.output ?? []) as {
    type: string;
    content?: { text?: string }[];
    call_id?: string;
    name?: string;
    arguments?: string;
    input?: string;
  }[];
  const text = output
    .filter((item) => item.type === "message")
    .flatMap((item) => (item.content ?? []).map((part) => part.text ?? ""))
    .join("");
  const calls = output
    .filter((item) => item.type === "function_call" || item.type === "custom_tool_call")
    .map((item) => {
      const args = item.type === "custom_tool_call" ? JSON.stringify({ input: item.input ?? "" }) : (item.arguments ?? "{}");
      return { id: item.call_id ?? "", type: "function" as const, function: { name: item.name ?? "", arguments: args } };
    });
  if (text === "" && calls.length === 0) return [];
  return [{ role: "assistant", content: text === "" ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
}
