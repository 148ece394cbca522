/** GET /v1/audit (admin): the audit log, filtered by time, key, request id, tier, model and status, keyset-paginated. */
import type { Context } from "hono";
import { z } from "zod";
import { auditPageQuery } from "../audit/query.ts";
import { recordFromRow } from "../audit/record.ts";
import type { AppEnv } from "../http/app-env.ts";
import { ApiError, invalidRequest } from "../openai/errors.ts";
import { requireAdmin } from "../security/admin.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor } from "../storage/postgres.ts";

const QuerySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  key: z.string().min(1).max(128).optional(),
  request_id: z.uuid().optional(),
  tier: z.coerce.number().int().min(1).max(5).optional(),
  model: z.string().min(1).max(256).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

type Cursor = { ts: string; request_id: string };
const encodeCursor = (cursor: Cursor): string => btoa(JSON.stringify(cursor)).replace(/=+$/, "");

function decodeCursor(text: string): Cursor {
  try {
    const cursor = JSON.parse(atob(text)) as Cursor;
    if (typeof cursor.ts === "string" && typeof cursor.request_id === "string") return cursor;
  } catch {
    // reported below
  }
  throw new ApiError(400, "cursor is not one this API returned", { code: "invalid_value", param: "cursor" });
}

export async function listAudit(c: Context<AppEnv>): Promise<Response> {
  await requireAdmin(c);
  const parsed = QuerySchema.safeParse(c.req.query());
  if (!parsed.success) throw invalidRequest(parsed.error);
  const query = parsed.data;
  const sql = postgresFor(c.get("config"));
  if (sql === undefined) throw new ApiError(503, "The audit log needs DATABASE_URL", { code: "audit_not_configured" });

  const { cursor, ...filters } = query;
  const { text, params } = auditPageQuery({ ...filters, after: cursor === undefined ? undefined : decodeCursor(cursor) });
  const rows = await tracked("postgres", () => sql(text, params)).catch((error: unknown) => {
    throw new ApiError(503, "The audit log cannot be read right now", { code: "audit_unavailable", cause: error });
  });
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
