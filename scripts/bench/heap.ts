/**
 * What a Claude Code turn in flight keeps alive in the Worker's isolate (issue 37, item 2):
 * heap snapshots of workerd, through its DevTools inspector, at rest and with turns held
 * at the provider, and what retains the large objects of the second that the first lacks.
 * RSS (the agent bench's measure) also counts garbage not yet collected; a snapshot is
 * taken after a full collection, so it shows only what something still holds.
 */
import WebSocket from "ws";
import { freePort } from "../local/services.ts";
import { startStackOnMachineServers } from "../local/stack.ts";
import { startRouter } from "../local/worker.ts";
import { footprintTurn } from "./agent-footprint.ts";
import { startCachingProvider } from "./caching-provider.ts";
import { buildUnminified } from "./cpu-profile.ts";

const IN_FLIGHT = 20;
/** Objects at least this large are listed with what holds them. */
const LARGE = 32 * 1024;

type Snapshot = {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
};

/** Live heap (after a collection) with `IN_FLIGHT` turns held at the provider, less the same at rest; and what holds the large objects. */
export async function heapOfTurns(): Promise<void> {
  const provider = await startCachingProvider();
  const stack = await startStackOnMachineServers("tg_heap");
  const inspectorPort = await freePort();
  const router = await startRouter(
    {
      ...stack.bindings,
      KEY_PREFIX: `heap${Date.now().toString(36)}`,
      AUDIT_HMAC_KEY: "heap-audit-key-0123456789",
      OPENROUTER_BASE_URL: `${provider.url}/openrouter/v1`,
      OPENROUTER_API_KEY: "heap-provider-key-0123456789",
      REQUIRE_API_KEY: "false",
      MAX_BODY_BYTES: String(16 * 1024 * 1024),
    },
    { scriptPath: buildUnminified(), inspectorPort },
  );
  const turn = footprintTurn();
  const body = JSON.stringify(turn.body);
  const send = async () => {
    const response = await fetch(`${router.url}${turn.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "cache-control": "no-store" },
      body,
    });
    await response.text();
    if (!response.ok) throw new Error(`the router answered ${response.status}`);
  };
  try {
    await send();
    await send();
    const rest = await snapshot(inspectorPort);
    provider.holdMs = 8_000;
    const turns = Promise.all(Array.from({ length: IN_FLIGHT }, send));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const busy = await snapshot(inspectorPort);
    await turns;
    const atRest = summary(rest);
    const inFlight = summary(busy);
    const perTurn = (inFlight.total - atRest.total) / IN_FLIGHT;
    console.log(
      `turn body ${(body.length / 1024).toFixed(0)} KiB; live heap at rest ${mib(atRest.total)}, with ${IN_FLIGHT} turns in flight ${mib(inFlight.total)}`,
    );
    console.log(`live heap per turn in flight: ${(perTurn / 1024).toFixed(0)} KiB (${(perTurn / body.length).toFixed(2)}× the body)`);
    console.log(`objects of ${LARGE / 1024} KiB or more: at rest ${atRest.large.length}, in flight ${inFlight.large.length}`);
    for (const line of heldLarge(busy)) console.log(line);
  } finally {
    await router.close();
    await provider.close();
    await stack.stop();
  }
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function snapshot(port: number): Promise<Snapshot> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string; title: string }[];
  const target = targets.find((t) => !t.title.startsWith("core:")) ?? targets[0]!;
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.once("open", resolve));
  const chunks: string[] = [];
  try {
    await new Promise<void>((resolve) => {
      ws.on("message", (data) => {
        const message = JSON.parse(String(data)) as { id?: number; method?: string; params?: { chunk: string } };
        if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params!.chunk);
        if (message.id === 2) resolve();
      });
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.enable" }));
      ws.send(JSON.stringify({ id: 2, method: "HeapProfiler.takeHeapSnapshot", params: { reportProgress: false } }));
    });
  } finally {
    ws.close();
  }
  return JSON.parse(chunks.join("")) as Snapshot;
}

type Graph = {
  count: number;
  type(node: number): string;
  name(node: number): string;
  size(node: number): number;
  /** Who points at `node`: each retainer and the edge's name. */
  retainers(node: number): { from: number; edge: string }[];
};

function graphOf(s: Snapshot): Graph {
  const { node_fields, node_types, edge_fields, edge_types } = s.snapshot.meta;
  const nf = node_fields.length;
  const ef = edge_fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ["type", "name", "self_size", "edge_count"].map((f) => node_fields.indexOf(f)) as [
    number,
    number,
    number,
    number,
  ];
  const [edgeTypeAt, edgeNameAt, toAt] = ["type", "name_or_index", "to_node"].map((f) => edge_fields.indexOf(f)) as [number, number, number];
  const count = s.nodes.length / nf;
  const incoming: { from: number; edge: string }[][] = Array.from({ length: count }, () => []);
  let edge = 0;
  for (let node = 0; node < count; node++) {
    const edges = s.nodes[node * nf + edgeCountAt]!;
    for (let i = 0; i < edges; i++, edge += ef) {
      const kind = edge_types[0][s.edges[edge + edgeTypeAt]!]!;
      if (kind === "weak") continue;
      const raw = s.edges[edge + edgeNameAt]!;
      const label = kind === "element" || kind === "hidden" ? `[${raw}]` : s.strings[raw]!;
      incoming[s.edges[edge + toAt]! / nf]!.push({ from: node, edge: label });
    }
  }
  return {
    count,
    type: (node) => node_types[0][s.nodes[node * nf + typeAt]!]!,
    name: (node) => s.strings[s.nodes[node * nf + nameAt]!]!,
    size: (node) => s.nodes[node * nf + sizeAt]!,
    retainers: (node) => incoming[node]!,
  };
}

function summary(s: Snapshot): { total: number; large: number[] } {
  const graph = graphOf(s);
  let total = 0;
  const large: number[] = [];
  for (let node = 0; node < graph.count; node++) {
    total += graph.size(node);
    if (graph.size(node) >= LARGE) large.push(node);
  }
  return { total, large };
}

/** The large objects, biggest first, each with a chain of what holds it (the first retainer at each step that is not a cycle). */
function heldLarge(s: Snapshot): string[] {
  const graph = graphOf(s);
  const { large } = summary(s);
  large.sort((a, b) => graph.size(b) - graph.size(a));
  const label = (node: number): string => `${graph.type(node)} ${graph.name(node).slice(0, 40).replaceAll("\n", " ")}`;
  const lines: string[] = [];
  const byChain = new Map<string, { count: number; bytes: number }>();
  for (const node of large) {
    const chain: string[] = [];
    const seen = new Set([node]);
    let at = node;
    for (let depth = 0; depth < 8; depth++) {
      const next = graph.retainers(at).find((r) => !seen.has(r.from));
      if (next === undefined) break;
      chain.push(`.${next.edge} ← ${label(next.from)}`);
      seen.add(next.from);
      at = next.from;
    }
    const key = `${graph.type(node)} ${chain.join(" ")}`;
    const entry = byChain.get(key) ?? { count: 0, bytes: 0 };
    byChain.set(key, { count: entry.count + 1, bytes: entry.bytes + graph.size(node) });
  }
  for (const [chain, { count, bytes }] of [...byChain.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 15)) {
    lines.push(`${count} × ${(bytes / count / 1024).toFixed(0)} KiB  ${chain}`);
  }
  return lines;
}
