/**
 * A fake provider with a simulated prompt cache (prompt-cache.ts), speaking OpenAI's chat
 * completions as OpenRouter does: JSON and SSE answers whose `usage` carries
 * `prompt_tokens_details.cached_tokens` and `.cache_write_tokens`. A base URL per provider
 * (`<url>/openrouter/v1`, `<url>/groq/v1`) records who served each call.
 *
 * The replay steers it with markers in the prompt: `replay-session:<id>` names the session
 * whose simulated clock the call reads, and `[replay answer: N tokens]` or
 * `[replay answer: N tokens, tool <name> <id>]` in the last message says what to answer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chatBlocks } from "./prompt-blocks.ts";
import { type Block, type CacheUsage, createPromptCache } from "./prompt-cache.ts";

/** One call as the provider billed it. */
export type SimulatedCall = { provider: string; model: string; session: string; usage: CacheUsage; completionTokens: number };

export type ServedPrompt = {
  provider: string;
  model: string;
  blocks: readonly Block[];
  cacheKey?: string | undefined;
  session: string;
  completionTokens: number;
};

export type CacheSimulator = {
  /** Serves one prompt at its session's clock, and records the call. */
  serve(prompt: ServedPrompt): SimulatedCall;
  /** Moves a session's clock on: the time between an agent's calls. */
  advance(session: string, ms: number): void;
  readonly calls: SimulatedCall[];
  /** Empties the cache, the clocks and the record: the next policy starts cold. */
  reset(): void;
};

export type CachingProvider = CacheSimulator & {
  url: string;
  /** Holds each answer this long before sending it, so many calls are in flight at once (the footprint measure). */
  holdMs: number;
  /** Calls being held now: each has reached the provider whole and waits for its answer. */
  held: number;
  close(): Promise<void>;
};

export const sessionMarker = (session: string): string => `replay-session:${session}`;
export const answerMarker = (tokens: number, tool?: { name: string; id: string }): string =>
  tool === undefined ? `[replay answer: ${tokens} tokens]` : `[replay answer: ${tokens} tokens, tool ${tool.name} ${tool.id}]`;
const SESSION = /replay-session:([\w.-]+)/;
const ANSWER = /\[replay answer: (\d+) tokens(?:, tool ([\w-]+) ([\w-]+))?\]/;
const DEFAULT_ANSWER_TOKENS = 8;

/** The marker of the newest message (or input item) that holds one. */
function askedAnswer(items: readonly unknown[]): RegExpExecArray | null {
  for (let i = items.length - 1; i >= 0; i--) {
    const found = ANSWER.exec(JSON.stringify(items[i]));
    if (found !== null) return found;
  }
  return null;
}

/** What the replay asks the provider to answer: completion tokens, and a tool call, if any. */
export function answerAsked(items: readonly unknown[]): { tokens: number; tool: { name: string; id: string } | undefined } {
  const asked = askedAnswer(items);
  return { tokens: Number(asked?.[1] ?? DEFAULT_ANSWER_TOKENS), tool: asked?.[2] === undefined ? undefined : { name: asked[2], id: asked[3]! } };
}

export function createCacheSimulator(): CacheSimulator {
  const cache = createPromptCache();
  const clocks = new Map<string, number>();
  const calls: SimulatedCall[] = [];
  return {
    serve({ provider, model, blocks, cacheKey, session, completionTokens }) {
      const usage = cache.serve({ model, blocks, cacheKey, now: clocks.get(session) ?? 0 });
      const call = { provider, model, session, usage, completionTokens };
      calls.push(call);
      return call;
    },
    advance: (session, ms) => void clocks.set(session, (clocks.get(session) ?? 0) + ms),
    calls,
    reset() {
      cache.clear();
      clocks.clear();
      calls.length = 0;
    },
  };
}

/** Starts the caching provider on 127.0.0.1 (a free port). */
export async function startCachingProvider(): Promise<CachingProvider> {
  const provider = Object.assign(createCacheSimulator(), { url: "", holdMs: 0, held: 0, close: async () => {} });
  const server = createServer((req, res) => {
    handle(provider, req, res).catch((error: unknown) => sendError(res, 500, String(error)));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return provider;
}

async function handle(simulator: CachingProvider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (simulator.holdMs > 0) {
    simulator.held++;
    await new Promise((resolve) => setTimeout(resolve, simulator.holdMs));
    simulator.held--;
  }
  const path = req.url ?? "";
  if (req.method === "GET" && path.endsWith("/models")) {
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(JSON.stringify({ object: "list", data: [{ id: "caching-fake", object: "model", created: 0, owned_by: "bench" }] }));
  }
  if (req.method !== "POST" || !path.endsWith("/chat/completions")) return sendError(res, 404, `Unknown route ${path}`);
  const raw = Buffer.concat(chunks).toString("utf8");
  const body = JSON.parse(raw) as Record<string, unknown>;
  const model = String(body.model);
  const provider = /^\/([\w-]+)\/v1\//.exec(path)?.[1] ?? "openrouter";
  const asked = answerAsked(Array.isArray(body.messages) ? (body.messages as unknown[]) : []);
  const limit = Number(body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY);
  const completionTokens = Math.min(asked.tokens, limit);
  const { usage } = simulator.serve({
    provider,
    model,
    blocks: chatBlocks(body),
    cacheKey: typeof body.prompt_cache_key === "string" ? body.prompt_cache_key : undefined,
    session: SESSION.exec(raw)?.[1] ?? "",
    completionTokens,
  });
  const wire = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: usage.promptTokens + completionTokens,
    // OpenRouter's report: cached reads and (for Anthropic's models) writes are parts of prompt_tokens.
    prompt_tokens_details: { cached_tokens: usage.cacheReadTokens, cache_write_tokens: usage.cacheWriteTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
  const id = `chatcmpl-cache${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const tool =
    asked.tool === undefined ? undefined : { id: asked.tool.id, type: "function", function: { name: asked.tool.name, arguments: '{"command":"ls"}' } };
  // The answer is as long as it says it is (a quarter of its characters), so no report outgrows what was written.
  const text = "ok ".repeat(Math.ceil((completionTokens * 4) / 3)).slice(0, completionTokens * 4);
  const finish = tool !== undefined ? "tool_calls" : completionTokens < asked.tokens ? "length" : "stop";

  if (body.stream !== true) {
    const message = tool === undefined ? { role: "assistant", content: text } : { role: "assistant", content: text, tool_calls: [tool] };
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(
      JSON.stringify({ id, object: "chat.completion", created, model, choices: [{ index: 0, message, finish_reason: finish }], usage: wire }),
    );
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (fields: object): string => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, ...fields })}\n\n`;
  const pieces = text.match(/[\s\S]{1,4096}/g) ?? [];
  for (const [i, piece] of pieces.entries())
    res.write(event({ choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: piece } : { content: piece }, finish_reason: null }] }));
  if (tool !== undefined) res.write(event({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...tool }] }, finish_reason: null }] }));
  res.write(event({ choices: [{ index: 0, delta: {}, finish_reason: finish }] }));
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true) res.write(event({ choices: [], usage: wire }));
  res.end("data: [DONE]\n\n");
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code: null } }));
}
