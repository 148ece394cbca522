/**
 * GET /v1/audit (admin): the audit log, filtered by time, key, request id, tier, model
 * and status, keyset-paginated. GET /v1/audit/summary (admin): requests per status
 * class in a time window (what a rollout watches between its steps). GET
 * /v1/audit/runs (admin): the scheduled audits, newest first.
 */
import type { Context } from "hono";
import * as z from "zod";
import { auditPageQuery } from "../audit/query.ts";
import { recordFromRow } from "../audit/record.ts";
import { ApiError, invalidRequest } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { routeSql, type Sql } from "../storage/postgres.ts";

/** A time Postgres can hold and an auditor could mean: ISO 8601 with an offset, years 1970 to 9999. */
const Instant = z.iso.datetime({ offset: true }).refine((text) => {
  const year = new Date(text).getUTCFullYear();
  return year >= 1970 && year <= 9999;
}, "must be a time from 1970 to 9999");
/** Printable text: a NUL or another control character can match no stored value, and Postgres refuses NUL. */
const Label = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

const QuerySchema = z.strictObject({
  from: Instant.optional(),
  to: Instant.optional(),
  key: Label(128).optional(),
  tenant: Label(64).optional(),
  request_id: z.uuid().optional(),
  tier: z.coerce.number().int().min(1).max(5).optional(),
  model: Label(256).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

const CursorSchema = z.strictObject({ ts: Instant, request_id: z.uuid() });
type Cursor = z.infer<typeof CursorSchema>;
const encodeCursor = (cursor: Cursor): string => btoa(JSON.stringify(cursor)).replace(/=+$/, "");

function decodeCursor(text: string): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(atob(text));
  } catch {
    value = undefined;
  }
  const cursor = CursorSchema.safeParse(value);
  if (cursor.success) return cursor.data;
  throw new ApiError(400, "cursor is not one this API returned", { code: "invalid_value", param: "cursor" });
}

const SummarySchema = z.strictObject({ from: Instant, to: Instant.optional() });
const RunsSchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });

export async function listAudit(c: Context<With>): Promise<Response> {
  const [query, sql] = await adminQuery(c, QuerySchema);
  const { cursor, ...filters } = query;
  const { text, params } = auditPageQuery({ ...filters, after: cursor === undefined ? undefined : decodeCursor(cursor) });
  const rows = await read(sql, text, params);
  const data = rows.map((row) => {
    const { record, hmac } = recordFromRow(row);
    return { ...record, hmac };
  });
  const last = data.at(-1);
  return c.json({
    object: "list",
    data,
    next_cursor: data.length === query.limit && last ? encodeCursor({ ts: last.ts, request_id: last.request_id }) : null,
  });
}

export async function auditSummary(c: Context<With>): Promise<Response> {
  const [query, sql] = await adminQuery(c, SummarySchema);
  const to = query.to ?? new Date().toISOString();
  const rows = await read(
    sql,
    "SELECT http_status / 100 AS class, count(*) AS n FROM audit_log WHERE ts >= $1::timestamptz AND ts < $2::timestamptz GROUP BY 1",
    [query.from, to],
  );
  const byClass: Record<string, number> = {};
  for (const row of rows) byClass[`${row.class}xx`] = Number(row.n);
  const total = Object.values(byClass).reduce((sum, n) => sum + n, 0);
  return c.json({ object: "audit.summary", from: query.from, to, total, by_class: byClass });
}

export async function auditRuns(c: Context<With>): Promise<Response> {
  const [query, sql] = await adminQuery(c, RunsSchema);
  const rows = await read(sql, "SELECT * FROM audit_runs ORDER BY id DESC LIMIT $1", [query.limit]);
  return c.json({
    object: "list",
    data: rows.map((row) => ({ ...row, id: Number(row.id), from_seq: Number(row.from_seq), to_seq: Number(row.to_seq), checked: Number(row.checked) })),
  });
}

/** The query string through its schema, and the audit database, read as a route reads it (the admin guard ran before). */
async function adminQuery<T extends z.ZodType>(c: Context<With>, schema: T): Promise<[z.infer<T>, Sql]> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidRequest(parsed.error);
  const { sql, stores } = c.get("services");
  if (sql === undefined) throw new ApiError(503, "The audit log needs DATABASE_URL", { code: "audit_not_configured" });
  const unavailable = (cause: unknown) => new ApiError(503, "The audit log cannot be read right now", { code: "audit_unavailable", cause });
  return [parsed.data, routeSql(sql, stores.tracked, unavailable)];
}

function read(sql: Sql, text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  return sql(text, params).catch((error: unknown) => {
    if (error instanceof ApiError) throw error;
    // Postgres answered and refused: a value it cannot take (SQLSTATE class 22) is the client's; anything else is ours.
    if (String((error as { code?: unknown }).code ?? "").startsWith("22")) {
      throw new ApiError(400, "The audit log cannot be filtered by that value", { code: "invalid_value", cause: error });
    }
    throw error;
  });
}
