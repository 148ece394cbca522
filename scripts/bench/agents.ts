/**
 * `npm run bench -- --agents [--quick]`: replays agent sessions (agent-replay.ts) through the
 * built router under four policies, and straight to the provider, with a fake provider that
 * caches prompts per model (caching-provider.ts); reports for each what the provider billed at
 * list prices, what tiergate charged, the cache-read share, the model switches and the tiers
 * user turns were given (agent-report.ts).
 */
import { calcPrice } from "@pydantic/genai-prices";
import { startStackOnMachineServers } from "../local/stack.ts";
import { footprintTurn, IN_FLIGHT, measureWorker } from "./agent-footprint.ts";
import { aiderSession, type Json, type ReplayCall, type ReplaySession, readProfiles, responsesSession } from "./agent-replay.ts";
import { type AgentBenchResults, type PolicyRow, writeAgentReport } from "./agent-report.ts";
import { answerAsked, type CachingProvider, type SimulatedCall, startCachingProvider } from "./caching-provider.ts";
import { CLAUDE_CODE_PREFIX, claudeCodeSessions } from "./claude-code-replay.ts";
import { messagesBlocks, responsesBlocks } from "./prompt-blocks.ts";
import { ADMIN_KEY, AUDIT_KEY, JSON_HEADERS, makeKey, NEVER_REACHED, PROVIDER_KEY } from "./requests.ts";
import { startForwardOnlyWorker, startRouterProcess, type Target } from "./targets.ts";

type Options = { quick: boolean; log: (line: string) => void; environment: { date: string; commit: string } };
type Registered = { id: string; upstream_model: string; owned_by: string; tier: number; provider_configured: boolean };
/** What the router said of one call: its status and where it sent it. */
type Observation = {
  session: string;
  kind: ReplayCall["kind"];
  status: number;
  model: string | null;
  tier: string | null;
  /** `x-tiergate-affinity` and `x-tiergate-reason`: why the router kept or moved the session. */
  affinity: string | null;
  reason: string | null;
  error?: string;
};

const CONCURRENCY = 3;
const CLAUDE_CODE_TARGETS = { full: [28_000, 45_000, 65_000, 85_000, 110_000, 140_000], quick: [28_000, 65_000] };

export async function runAgentBench({ quick, log, environment }: Options): Promise<string> {
  const sessions: ReplaySession[] = [
    ...claudeCodeSessions(quick ? CLAUDE_CODE_TARGETS.quick : CLAUDE_CODE_TARGETS.full),
    ...readProfiles()
      .filter((_, i) => !quick || i % 6 === 0)
      .map(aiderSession),
    responsesSession(quick ? 30_000 : 60_000),
  ];
  const stack = await startStackOnMachineServers("tg_bench_agents");
  const provider = await startCachingProvider();
  const routers: Target[] = [];
  try {
    const bindings = (extra: Record<string, string>) => ({
      ...stack.bindings,
      KEY_PREFIX: `agents${Date.now().toString(36)}${routers.length}`,
      AUDIT_HMAC_KEY: AUDIT_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      OPENROUTER_BASE_URL: `${provider.url}/openrouter/v1`,
      OPENROUTER_API_KEY: PROVIDER_KEY,
      GROQ_BASE_URL: `${provider.url}/groq/v1`,
      GROQ_API_KEY: PROVIDER_KEY,
      MAX_BODY_BYTES: String(16 * 1024 * 1024),
      // Keys optional, so the footprint's turns are served keyless; the replays' keys are checked and charged.
      REQUIRE_API_KEY: "false",
      ...extra,
    });
    const start = async (extra: Record<string, string>): Promise<Target> => {
      const router = await startRouterProcess(bindings(extra));
      routers.push(router);
      return router;
    };
    const first = await start({});
    const { claude, frontier } = await chosenModels(first.url);
    log(`agents: the client's Claude model pinned as ${claude.id}; the frontier model by id ${frontier.id}`);
    const policies: { policy: string; model: string | undefined; extra: Record<string, string> }[] = [
      { policy: `pinned to ${claude.id} (the client's Claude model, by id)`, model: claude.id, extra: {} },
      { policy: `pinned to ${frontier.id} (a frontier model, by id)`, model: frontier.id, extra: {} },
      { policy: "routed per turn (`SESSION_AFFINITY=off`)", model: undefined, extra: { SESSION_AFFINITY: "off" } },
      { policy: "tiergate: routed, session affinity on (the default)", model: undefined, extra: {} },
    ];
    const rows: PolicyRow[] = [];
    log(`agents: straight to the provider, every breakpoint kept (${sessions.length} sessions)`);
    provider.reset();
    for (const session of sessions) direct(provider, session, session.source === "responses" ? frontier : claude);
    rows.push(summarize("sent straight to the provider, every breakpoint kept (what the agents themselves get)", provider.calls, [], null));
    for (const [i, { policy, model, extra }] of policies.entries()) {
      const router = i === 0 ? first : await start(extra);
      const key = await makeKey(router.url, NEVER_REACHED);
      provider.reset();
      log(`agents: ${policy}`);
      const startedAt = Date.now();
      const observations = await replayAll(sessions, router.url, key, model, provider);
      const charged = await settledSpend(router.url, key);
      rows.push(summarize(policy, provider.calls, observations, charged));
      log(`agents: ${observations.length} calls in ${((Date.now() - startedAt) / 1000).toFixed(0)} s; ${rows.at(-1)!.failed} failed`);
      for (const failure of rows.at(-1)!.failures) log(`  failed: ${failure}`);
    }
    log(`agents: CPU and memory, ${IN_FLIGHT} Claude Code turns in flight, the router beside the forward-only Worker`);
    // The replays' routers go first: idle, they still share the two cores, and doubled the forward-only Worker's CPU per turn.
    for (const router of routers.splice(0)) await router.stop();
    // A fresh router (tiergate's default): after the replays an isolate's heap has grown, which would hide what turns add.
    const tiergate = await start({});
    const forwardOnly = await startForwardOnlyWorker(`${provider.url}/openrouter/v1`);
    routers.push(forwardOnly);
    const turn = footprintTurn();
    // Keyless, as the main bench's router target: with keys, 80 turns at once meet 429s on one key (its tokens per minute
    // is leased in slices of a tenth of the limit) and 529s on eighty (budget checks time out against the stand-in stores).
    const keyless = () => ({ ...JSON_HEADERS, "cache-control": "no-store" });
    const footprint = {
      router: await measureWorker({ pid: tiergate.pid, url: `${tiergate.url}${turn.path}`, headers: keyless }, provider, turn),
      forwardOnly: await measureWorker({ pid: forwardOnly.pid, url: `${forwardOnly.url}${turn.path}`, headers: () => JSON_HEADERS }, provider, turn),
    };
    const results: AgentBenchResults = {
      environment,
      quick,
      sessions: {
        claudeCode: sessions.filter((s) => s.source === "claude-code").length,
        aider: sessions.filter((s) => s.source === "aider").length,
        responses: sessions.filter((s) => s.source === "responses").length,
      },
      rows,
      footprint,
    };
    return await writeAgentReport(results);
  } finally {
    for (const router of routers) await router.stop();
    await provider.close();
    await stack.stop();
  }
}

/** The registry's Claude model (its highest tier, Opus before Sonnet) and a frontier model of another family, from GET /v1/models. */
async function chosenModels(routerUrl: string): Promise<{ claude: Registered; frontier: Registered }> {
  const listed = (await (await fetch(`${routerUrl}/v1/models`)).json()) as { data: Partial<Registered>[] };
  // Only models at the providers the bench points at its caching fake (OpenRouter, Groq) can be pinned.
  const models = listed.data.filter((m): m is Registered => typeof m.tier === "number" && m.provider_configured === true).sort((a, b) => b.tier - a.tier);
  const isClaude = (m: Registered): boolean => /claude/i.test(m.upstream_model);
  const claude = models.find((m) => isClaude(m) && /opus/i.test(m.upstream_model)) ?? models.find(isClaude);
  const frontier = models.find((m) => m.tier === 5 && !isClaude(m)) ?? models[0];
  if (claude === undefined || frontier === undefined) throw new Error("the registry lists no Claude model or no frontier model");
  return { claude, frontier };
}

/** A session as its agent sends it to the provider itself: the Messages or Responses body, as that provider reads it. */
function direct(provider: CachingProvider, session: ReplaySession, model: Registered): void {
  for (const call of session.calls()) {
    provider.advance(session.id, call.gapMs);
    const messages = call.path === "/v1/messages";
    const items = (messages ? call.body.messages : call.body.input) as unknown[];
    const limit = Number(call.body.max_tokens ?? call.body.max_output_tokens ?? Number.POSITIVE_INFINITY);
    provider.serve({
      provider: model.owned_by,
      model: model.upstream_model,
      blocks: messages ? messagesBlocks(call.body) : responsesBlocks(call.body),
      cacheKey: typeof call.body.prompt_cache_key === "string" ? call.body.prompt_cache_key : undefined,
      session: session.id,
      completionTokens: Math.min(answerAsked(items).tokens, limit),
    });
  }
}

/** Every session through the router, a few at a time, each call after its simulated gap. */
async function replayAll(
  sessions: ReplaySession[],
  routerUrl: string,
  key: string,
  model: string | undefined,
  provider: CachingProvider,
): Promise<Observation[]> {
  const observations: Observation[] = [];
  const queue = [...sessions];
  const headers = { ...JSON_HEADERS, authorization: `Bearer ${key}`, "cache-control": "no-cache, no-store", "anthropic-version": "2023-06-01" };
  const worker = async (): Promise<void> => {
    for (let session = queue.shift(); session !== undefined; session = queue.shift()) {
      for (const call of session.calls()) {
        provider.advance(session.id, call.gapMs);
        const body: Json = model === undefined ? call.body : { ...call.body, model };
        const response = await fetch(`${routerUrl}${call.path}`, { method: "POST", headers, body: JSON.stringify(body) });
        const text = await response.text();
        const observation: Observation = {
          session: session.id,
          kind: call.kind,
          status: response.status,
          model: response.headers.get("x-tiergate-model"),
          tier: response.headers.get("x-tiergate-tier"),
          affinity: response.headers.get("x-tiergate-affinity"),
          reason: response.headers.get("x-tiergate-reason"),
        };
        if (response.status !== 200) observation.error = `${session.id} ${call.path} ${response.status}: ${text.slice(0, 240)}`;
        observations.push(observation);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return observations;
}

/** The key's spend this month once the router's after-response work has settled (the same figure twice, half a second apart). */
async function settledSpend(routerUrl: string, key: string): Promise<number> {
  const read = async (): Promise<number> => {
    const usage = (await (await fetch(`${routerUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
      key: { month: { spent_usd: number } };
    };
    return usage.key.month.spent_usd;
  };
  let last = await read();
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await read();
    if (now === last && now > 0) return now;
    last = now;
  }
  return last;
}

/** A call's price at the catalog's list prices, by the model and provider that served it; undefined when the catalog has none. */
function listPriceUsd({ provider, model, usage, completionTokens }: SimulatedCall): number | undefined {
  const classes = {
    input_tokens: usage.promptTokens,
    cache_read_tokens: usage.cacheReadTokens,
    cache_write_tokens: usage.cacheWriteTokens,
    ...(usage.cacheWrite1hTokens > 0 ? { cache_write_1h_tokens: usage.cacheWrite1hTokens } : {}),
    output_tokens: completionTokens,
  };
  try {
    return calcPrice(classes, model, { providerId: provider })?.total_price ?? undefined;
  } catch {
    return undefined;
  }
}

function summarize(policy: string, calls: readonly SimulatedCall[], observations: readonly Observation[], chargedUsd: number | null): PolicyRow {
  const sum = (f: (call: SimulatedCall) => number, of = calls): number => of.reduce((total, call) => total + f(call), 0);
  const claudeCode = calls.filter((call) => call.session.startsWith(CLAUDE_CODE_PREFIX));
  const unpriced = new Set<string>();
  let bill = 0;
  for (const call of calls) {
    const price = listPriceUsd(call);
    if (price === undefined) unpriced.add(`${call.provider}:${call.model}`);
    else bill += price;
  }
  const switches = { toolResult: 0, user: 0 };
  const moves: Record<string, number> = {};
  const userTiers: Record<string, number> = {};
  const previous = new Map<string, string>();
  for (const o of observations) {
    if (o.status !== 200 || o.model === null) continue;
    const before = previous.get(o.session);
    if (before !== undefined && before !== o.model) {
      switches[o.kind === "tool_result" ? "toolResult" : "user"] += 1;
      const why = moveReason(o);
      moves[why] = (moves[why] ?? 0) + 1;
    }
    previous.set(o.session, o.model);
    if (o.kind === "user") userTiers[o.tier ?? "?"] = (userTiers[o.tier ?? "?"] ?? 0) + 1;
  }
  const failures = observations.filter((o) => o.error !== undefined);
  const servedBy: Record<string, number> = {};
  for (const call of calls) servedBy[call.model] = (servedBy[call.model] ?? 0) + 1;
  return {
    policy,
    calls: observations.length === 0 ? calls.length : observations.length,
    failed: failures.length,
    failures: failures.slice(0, 3).map((o) => o.error!),
    promptTokens: sum((c) => c.usage.promptTokens),
    cacheReadTokens: sum((c) => c.usage.cacheReadTokens),
    cacheWriteTokens: sum((c) => c.usage.cacheWriteTokens),
    claudeCode: { promptTokens: sum((c) => c.usage.promptTokens, claudeCode), cacheReadTokens: sum((c) => c.usage.cacheReadTokens, claudeCode) },
    completionTokens: sum((c) => c.completionTokens),
    providerBillUsd: bill,
    servedBy,
    unpriced: [...unpriced],
    chargedUsd,
    switches: observations.length === 0 ? null : switches,
    userTiers: observations.length === 0 ? null : userTiers,
    moves: observations.length === 0 ? null : moves,
  };
}

/** Why a call changed its session's model, from the router's `x-tiergate-reason` (routing/affinity.ts's words). */
function moveReason({ affinity, reason }: Observation): string {
  if (affinity === null) return "routed on its own (affinity off)";
  const text = reason ?? "";
  if (text.includes("harder user turn")) return "up, for a harder user turn";
  if (text.includes("cache-regret gate: moving pays")) return "the cache-regret gate";
  if (text.includes("has expired")) return "the session's cache had expired";
  if (text.includes("routed on its own") || text.includes("no longer in the registry")) return "the session's model could not serve";
  return `other (${affinity})`;
}
