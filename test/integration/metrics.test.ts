/**
 * Metrics for real: two worker processes share one Redis, a known mixed workload
 * (answers, streams, cache hits, errors) goes through them, the cron pushes the totals
 * to a Pushgateway, and a Prometheus scraping it reports exactly the workload:
 * requests, tokens and spend. GET /metrics serves the same totals, and promtool
 * accepts them; every dashboard panel's query answers; the alert rules pass promtool's
 * own tests; the scheduled audit passes a clean log and fails an altered one.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { type Monitoring, startMonitoring } from "../support/prometheus.ts";
import { chat, fakeProviders, type Router, startRouter, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { auditRows, startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let fake: FakeUpstream;
let monitoring: Monitoring;
let first: Router;
let second: Router;
let collector: Server;
/** What the OTLP collector stand-in received, newest last. */
const otlpBodies: { resourceMetrics: { scopeMetrics: { metrics: { name: string; sum?: { dataPoints: { asDouble: number }[] } }[] }[] }[] }[] = [];
const METRICS_TOKEN = "scrape-token-0123456789";

beforeAll(async () => {
  [storage, monitoring] = await Promise.all([startTestStorage(), startMonitoring()]);
  fake = await startFakeUpstream({ promptTokens: 20, completionTokens: 8 });
  // An OTLP/HTTP collector stand-in: it keeps each JSON body it is sent.
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      otlpBodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const otlpUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/metrics`;
  const bindings = { ...storage.bindings, ...fakeProviders(fake.url), PUSHGATEWAY_URL: monitoring.pushgatewayUrl, OTLP_METRICS_URL: otlpUrl, METRICS_TOKEN };
  [first, second] = await Promise.all([startRouter(bindings), startRouter(bindings)]);
});
afterAll(async () => {
  await Promise.all([first.close(), second.close(), fake.close(), monitoring.close(), new Promise((resolve) => collector.close(resolve))]);
  await storage.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const send = async (router: Router, body: Record<string, unknown>) => {
  const response = await router.post("/v1/chat/completions", body);
  await response.text();
  return response;
};

/** The workload: what each response said, to compare with what Prometheus says. */
async function runWorkload(): Promise<{ requests: number; byCache: Record<string, number>; byStatus: Record<string, number> }> {
  const statuses: number[] = [];
  const caches: string[] = [];
  const note = (response: Response) => {
    statuses.push(response.status);
    caches.push(response.headers.get("x-tiergate-cache")!);
  };
  const repeated = uniquePrompt("asked twice");
  for (let i = 0; i < 6; i++) note(await send(first, chat(uniquePrompt("json"))));
  for (let i = 0; i < 4; i++) note(await send(second, chat(uniquePrompt("stream"), { stream: true })));
  note(await send(first, chat(repeated)));
  await sleep(100); // the cache write goes out with the after-response batch
  note(await send(second, chat(repeated))); // a hit from the other process, through Redis
  note(await send(first, chat(repeated)));
  note(await send(first, chat("no such model", { model: "gpt-17" }))); // refused: 404
  note(await send(second, chat(uniquePrompt("bad"), { temperature: 9 }))); // refused: 400
  const tally = (values: (string | number)[]) => {
    const counts: Record<string, number> = {};
    for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
    return counts;
  };
  return { requests: statuses.length, byCache: tally(caches), byStatus: tally(statuses) };
}

/** Polls Prometheus until `expr` gives `expected` (scrapes run every second). */
async function eventually(expr: string, expected: number): Promise<number> {
  let last = Number.NaN;
  for (let tries = 0; tries < 40; tries++) {
    const result = await monitoring.query(expr);
    last = result[0]?.value ?? Number.NaN;
    if (last === expected) return last;
    await sleep(250);
  }
  return last;
}

describe("metrics through the Pushgateway into Prometheus", () => {
  it("reports exactly the workload: requests by status and cache result, tokens and spend", async () => {
    const workload = await runWorkload();
    expect(workload.byCache).toMatchObject({ HIT: 2 });
    // Every record landed (so every batch, and its increments, reached Redis), then the cron pushes.
    let rows: Record<string, unknown>[] = [];
    for (let tries = 0; tries < 50 && rows.length < workload.requests; tries++) {
      await first.scheduled();
      rows = await auditRows(storage.db);
    }
    expect(rows).toHaveLength(workload.requests);
    await second.scheduled();
    expect(second.logs.join("\n")).toContain('"cron":"metrics-push","pushed":true,"otlp":true');

    expect(await eventually("sum(tiergate_requests_total)", workload.requests)).toBe(workload.requests);
    for (const [cache, n] of Object.entries(workload.byCache)) expect(await eventually(`sum(tiergate_requests_total{cache="${cache}"})`, n)).toBe(n);
    for (const [status, n] of Object.entries(workload.byStatus)) expect(await eventually(`sum(tiergate_requests_total{status="${status}"})`, n)).toBe(n);
    const input = rows.reduce((sum, row) => sum + Number(row.prompt_tokens ?? 0), 0);
    const output = rows.reduce((sum, row) => sum + Number(row.completion_tokens ?? 0), 0);
    expect(input).toBe(20 * 13);
    expect(output).toBe(8 * 13);
    expect(await eventually('sum(tiergate_tokens_total{direction="input"})', input)).toBe(input);
    expect(await eventually('sum(tiergate_tokens_total{direction="output"})', output)).toBe(output);
    const spendMicros = rows.reduce((sum, row) => sum + Math.round(Number(row.cost_usd ?? 0) * 1e6), 0);
    expect(spendMicros).toBeGreaterThan(0);
    const spend = await monitoring.query("sum(tiergate_spend_usd_total)");
    expect(Math.round(spend[0]!.value * 1e6)).toBe(spendMicros);
    expect((await monitoring.query("tiergate_constitutional_compliance_ratio"))[0]!.value).toBe(1);
    expect(await eventually("sum(tiergate_request_duration_seconds_count)", workload.requests)).toBe(workload.requests);
    expect(await eventually("sum(tiergate_time_to_first_token_seconds_count)", 4)).toBe(4);

    // The same totals went to the OTLP collector.
    const metrics = otlpBodies.at(-1)!.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    const sum = (name: string) => metrics.find((m) => m.name === name)!.sum!.dataPoints.reduce((total, point) => total + point.asDouble, 0);
    expect(sum("tiergate_requests_total")).toBe(workload.requests);
    expect(Math.round(sum("tiergate_spend_usd_total") * 1e6)).toBe(spendMicros);
  });

  it("serves the same totals at /metrics, to the scrape token or the admin key, in a format promtool accepts", async () => {
    const scraped = await first.fetch("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await scraped.text();
    expect(text).toMatch(/^tiergate_requests_total\{tier="\d",model="[^"]+",provider="[^"]+",status="200",cache="MISS"\} \d+$/m);
    expect(text).toMatch(/^tiergate_overhead_seconds_bucket\{cache="MISS",le="\+Inf"\} \d+$/m);
    execFileSync("promtool", ["check", "metrics"], { input: text });
    expect((await first.fetch("/metrics", { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } })).status).toBe(200);
    expect((await first.fetch("/metrics")).status).toBe(401);
    expect((await first.fetch("/metrics", { headers: { authorization: "Bearer not-the-token-000000" } })).status).toBe(401);
  });

  it("counts the usage classes, and the share of input the providers read from their caches", async () => {
    const before = (await auditRows(storage.db)).length;
    fake.behaviour.usage = {
      prompt_tokens: 20,
      completion_tokens: 8,
      prompt_tokens_details: { cached_tokens: 12, cache_write_tokens: 6 },
      completion_tokens_details: { reasoning_tokens: 3 },
    };
    try {
      await send(first, chat(uniquePrompt("classes")));
      await send(second, chat(uniquePrompt("classes"), { stream: true }));
    } finally {
      fake.behaviour.usage = undefined;
    }
    let rows: Record<string, unknown>[] = [];
    for (let tries = 0; tries < 50 && rows.length < before + 2; tries++) {
      await first.scheduled();
      rows = await auditRows(storage.db);
    }
    expect(rows).toHaveLength(before + 2);
    const sum = (column: string) => rows.reduce((total, row) => total + Number(row[column] ?? 0), 0);
    expect(sum("cache_read_tokens")).toBe(24);
    const text = await (await first.fetch("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    execFileSync("promtool", ["check", "metrics"], { input: text });
    const total = (klass: string) =>
      [...text.matchAll(new RegExp(`^tiergate_token_classes_total\\{class="${klass}",[^}]*\\} (\\d+)$`, "gm"))].reduce((n, match) => n + Number(match[1]), 0);
    expect(total("cache_read")).toBe(24);
    expect(total("cache_write")).toBe(12);
    expect(total("cache_write_1h")).toBe(0);
    expect(total("reasoning")).toBe(6);
    const ratio = Number(/^tiergate_cache_read_ratio (\S+)$/m.exec(text)?.[1]);
    expect(ratio).toBeCloseTo(24 / sum("prompt_tokens"), 12);
    // The collector is sent the same share at the next push.
    await first.scheduled();
    const metrics = otlpBodies.at(-1)!.resourceMetrics[0]!.scopeMetrics[0]!.metrics as { name: string; gauge?: { dataPoints: { asDouble: number }[] } }[];
    expect(metrics.find((m) => m.name === "tiergate_cache_read_ratio")?.gauge?.dataPoints[0]?.asDouble).toBeCloseTo(ratio, 12);
  });
});

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the Grafana dashboard", () => {
  it("has every panel's query answer, with data, from the Prometheus that holds the workload", async () => {
    // A second round of traffic and a daily cron (the scheduled audit), so rates and the audit gauges exist.
    for (let i = 0; i < 4; i++) await send(first, chat(uniquePrompt("second round"), { stream: i % 2 === 0 }));
    await sleep(100);
    await first.scheduled("17 3 * * *");
    await second.scheduled();
    await sleep(2_500); // two scrapes after the push
    const dashboard = JSON.parse(readFileSync(`${root}monitoring/grafana/tiergate.json`, "utf8")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(12);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const result = await monitoring.query(target.expr);
        expect(result.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        expect(
          result.some((r) => Number.isFinite(r.value)),
          `${panel.title}: ${target.expr} gives only NaN`,
        ).toBe(true);
      }
    }
  });
});

describe("alert rules", () => {
  it("pass promtool's check, and its unit tests show each alert firing and not firing", () => {
    const dir = `${root}monitoring/prometheus`;
    expect(execFileSync("promtool", ["check", "rules", "alerts.yml"], { cwd: dir, encoding: "utf8" })).toContain("SUCCESS: 7 rules found");
    expect(execFileSync("promtool", ["test", "rules", "alerts.test.yml"], { cwd: dir, encoding: "utf8" })).toContain("SUCCESS");
    const tests = readFileSync(`${dir}/alerts.test.yml`, "utf8");
    for (const alert of readFileSync(`${dir}/alerts.yml`, "utf8").matchAll(/- alert: (\w+)/g)) {
      expect(tests.match(new RegExp(`alertname: ${alert[1]}\\n\\s+exp_alerts: \\[\\]`)), `${alert[1]} not firing`).not.toBeNull();
      expect(tests.match(new RegExp(`alertname: ${alert[1]}\\n\\s+exp_alerts:\\n`)), `${alert[1]} firing`).not.toBeNull();
    }
  });
});

describe("scheduled audits", () => {
  const audit = () => runScript(storage, "audit");

  it("pass on a clean log, store the run, and move the checkpoint on", async () => {
    const clean = await audit();
    expect(clean.stdout).toContain("audit passed");
    expect(clean.code).toBe(0);
    const runs = await (await first.fetch("/v1/audit/runs", { headers: { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` } })).json();
    expect(runs.data[0]).toMatchObject({ ok: true, runner: "npm run audit", constitutional_hash: "cdd01ef066bc6cf2" });
    expect(runs.data[0].slos).toHaveProperty("overhead_p99_ms");
    expect(runs.data.some((run: { runner: string }) => run.runner === "cron")).toBe(true);
    // Incremental: the next run starts where the last clean one ended.
    const ended = Number(/seq \d+ to (\d+)/.exec(clean.stdout)![1]);
    await send(first, chat(uniquePrompt("after the checkpoint")));
    await flushAll();
    const next = await audit();
    expect(next.code).toBe(0);
    expect(next.stdout).toContain(`seq ${ended + 1} to`);
  });

  it("fail when a row is altered, even one an earlier audit checked, or the newest row deleted, and say so in the metrics", async () => {
    expect((await audit()).code).toBe(0); // every row so far is behind the checkpoint now
    const [row] = (await storage.db.query("SELECT seq FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")).rows;
    await storage.db.query("UPDATE audit_log SET cost_usd = 1000 WHERE seq = $1", [row.seq]);
    const altered = await audit();
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain("changed since the audit that checkpointed them");
    expect(altered.stdout).toContain(`PROBLEM: bad hmac: seq ${row.seq}`);
    const metrics = await (await first.fetch("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(/^tiergate_audit_verification_ok 0$/m);
    expect(metrics).toMatch(/^tiergate_audit_problems\{kind="bad_hmac"\} 1$/m);

    await storage.db.query("DELETE FROM audit_log WHERE seq = $1", [row.seq]);
    const deleted = await audit();
    expect(deleted.code).toBe(1);
    expect(deleted.stdout).toContain(`PROBLEM: issued, not stored: seq ${row.seq}`);
  });
});

async function flushAll(): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    await first.scheduled();
    if ((await storage.redis.lLen(`${storage.prefix}:audit:queue`)) === 0) return;
  }
}
