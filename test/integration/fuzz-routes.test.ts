/**
 * Fuzz, every route (issue 23): seeded random methods, paths, query strings, headers
 * and bodies, invalid Unicode and NUL included, against the real stack. Whatever is
 * sent, the router never answers 5xx, every error is OpenAI's error body (the surface
 * every route speaks today), and every request of an audited route leaves exactly one
 * audit row; health, metrics and the dashboard are polled by machines and leave none.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithFakeProvider } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const RUNS = 3_000;
let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;
let clientKey = "";

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider({ ...storage.bindings, MAX_BODY_BYTES: "32768", FAILED_KEY_CHECKS_PER_MINUTE: "1000000" });
  const made = await app.router.post(
    "/v1/admin/keys",
    { name: "fuzz", tenant: "fuzz", rpm: 1_000_000, daily_budget_usd: 1_000 },
    { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` },
  );
  clientKey = ((await made.json()) as { key: string }).key;
}, 60_000);
afterAll(async () => {
  await app.close();
  await storage.close();
});

/** Text as clients get it wrong: NUL, a lone surrogate escaped, bytes that are not UTF-8 once decoded, and plain noise. */
const nasty = fc.oneof(
  fc.constantFrom("%00", "%ED%A0%80", "%FF", "%C0%AF", "..", "%2e%2e", "a%00b", "", "auto", "__proto__", "constructor", crypto.randomUUID()),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const TEMPLATES = [
  "/v1/chat/completions",
  "/v1/route",
  "/v1/feedback",
  "/v1/models",
  "/v1/models/:id",
  "/v1/audit",
  "/v1/audit/summary",
  "/v1/audit/runs",
  "/v1/usage",
  "/v1/admin/keys",
  "/v1/admin/keys/:id",
  "/v1/admin/tenants",
  "/v1/admin/tenants/:id",
  "/health",
  "/metrics",
  "/dashboard",
  "/dashboard/data",
  "/dashboard/:id",
  "/v1/:id",
  "/:id",
];
const FILTERS = ["tenant", "key", "model", "request_id", "cursor", "from", "to", "limit", "status", "tier", "deep", "x"];
const query = fc
  .array(fc.tuple(fc.constantFrom(...FILTERS), nasty), { maxLength: 3 })
  .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`));
const path = fc.tuple(fc.constantFrom(...TEMPLATES), nasty, query).map(([template, id, q]) => template.replace(":id", id === "" ? "x" : id) + q);

const jsonText = fc.oneof(
  fc.constantFrom(
    '{"messages":[{"role":"user","content":"\\ud800"}]}',
    '{"messages":[{"role":"user","content":"hi\\u0000there"}],"user":"\\udfff"}',
    '{"model":"auto","messages":[{"role":"user","content":"hello"}]}',
    '{"model":"auto","stream":true,"messages":[{"role":"user","content":"hello"}]}',
    '{"name":"n\\u0000","tenant":"t"}',
    '{"id":"fuzz-t","name":"\\ud800"}',
    '{"model":"__proto__","messages":[{"role":"constructor","content":"x"}]}',
    `{"request_id":"${crypto.randomUUID()}","rating":"good"}`,
    '{"request_id":"\\u0000","rating":"good"}',
  ),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
);
const body = fc.oneof(
  { weight: 8, arbitrary: jsonText.map((text): BodyInit => text) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BodyInit => bytes) },
  { weight: 1, arbitrary: fc.constant<BodyInit | undefined>(undefined) },
);
const printable = fc.string({ unit: fc.constantFrom(..."abcXYZ0129 -_=:;,./\u00e9\u00ff"), maxLength: 30 });
const headers = fc.record(
  {
    "content-type": fc.oneof(
      { weight: 6, arbitrary: fc.constant("application/json") },
      { weight: 1, arbitrary: fc.constantFrom("application/json; charset=utf-8", "text/plain", "", "multipart/form-data") },
    ),
    authorization: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("CLIENT", "ADMIN") },
      { weight: 1, arbitrary: fc.constantFrom("Bearer ", "Bearer tg_live_00000000000000000000000000000000") },
      { weight: 1, arbitrary: printable },
    ),
    "x-constitutional-hash": fc.oneof({ weight: 6, arbitrary: fc.constant("cdd01ef066bc6cf2") }, { weight: 1, arbitrary: printable }),
    "x-tiergate-cache-ttl": fc.oneof(printable, fc.integer().map(String)),
    "cf-connecting-ip": fc.constantFrom("203.0.113.9", "2001:db8::1", "garbage"),
  },
  { requiredKeys: [] },
);
const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom("GET", "POST") }, { weight: 2, arbitrary: fc.constantFrom("DELETE", "PUT", "PATCH") });

const UNAUDITED = ["/health", "/metrics", "/dashboard"];
const audited = (pathname: string) => !UNAUDITED.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));

describe("any method, path, query, header and body on every route", () => {
  it(`never answers 5xx, errors in OpenAI's shape, one audit row per audited request (${RUNS} seeded cases)`, async () => {
    const sent: { id: string; audited: boolean }[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, headers, body, async (verb, target, given, payload) => {
        const resolved: Record<string, string> = { ...given };
        if (resolved.authorization === "CLIENT") resolved.authorization = `Bearer ${clientKey}`;
        if (resolved.authorization === "ADMIN") resolved.authorization = `Bearer ${storage.bindings.ADMIN_API_KEY}`;
        const carries = verb !== "GET" && payload !== undefined;
        const response = await app.router.fetch(target, { method: verb, headers: resolved, body: carries ? payload : undefined });
        const answer = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, `${verb} ${target}: ${answer.slice(0, 300)}`).toBeLessThan(500);
        if (response.status >= 400) {
          const parsed = JSON.parse(answer) as { error: Record<string, unknown> };
          expect(parsed.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
        }
        const id = response.headers.get("x-request-id");
        expect(id, `${verb} ${target}`).toMatch(/^[0-9a-f-]{36}$/);
        sent.push({ id: id!, audited: audited(new URL(target, "http://x").pathname) });
      }),
      { numRuns: RUNS, seed: 20261202 },
    );
    await app.router.scheduled();
    for (let i = 0; i < 10 && Number(await storage.redis.lLen(`${storage.prefix}:audit:queue`)) > 0; i++) await app.router.scheduled();
    const { rows } = await storage.db.query("SELECT request_id::text AS id, count(*)::int AS n FROM audit_log WHERE request_id = ANY($1::uuid[]) GROUP BY 1", [
      sent.map((request) => request.id),
    ]);
    const counts = new Map(rows.map((row) => [row.id as string, row.n as number]));
    const wrong = sent.filter((request) => (counts.get(request.id) ?? 0) !== (request.audited ? 1 : 0));
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(sent.filter((request) => request.audited).length).toBeGreaterThan(RUNS / 2);
    // The cases reach the handlers, not only the front door: answers served, and refusals of many kinds.
    expect([...statuses.keys()].filter((status) => status < 300).length).toBeGreaterThan(0);
    expect(statuses.size).toBeGreaterThanOrEqual(7);
  }, 300_000);
});
