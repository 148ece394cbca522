/** The audit log's one page query: filters, newest first, keyset-paginated on (ts, request_id). */

export type AuditFilters = {
  from?: string | undefined;
  to?: string | undefined;
  key?: string | undefined;
  tenant?: string | undefined;
  request_id?: string | undefined;
  tier?: number | undefined;
  model?: string | undefined;
  status?: number | undefined;
  /** The last row of the previous page. */
  after?: { ts: string; request_id: string } | undefined;
  limit: number;
};

/** The parameterised statement for a page; every filter is served by an index of migrations/0001. */
export function auditPageQuery(filters: AuditFilters): { text: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown): void => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.from) add((p) => `ts >= ${p}::timestamptz`, filters.from);
  if (filters.to) add((p) => `ts < ${p}::timestamptz`, filters.to);
  if (filters.key) add((p) => `key_id = ${p}`, filters.key);
  if (filters.tenant) add((p) => `tenant_id = ${p}`, filters.tenant);
  if (filters.request_id) add((p) => `request_id = ${p}::uuid`, filters.request_id);
  if (filters.tier) add((p) => `tier = ${p}`, filters.tier);
  if (filters.model) add((p) => `model = ${p}`, filters.model);
  if (filters.status) add((p) => `http_status = ${p}`, filters.status);
  if (filters.after) {
    params.push(filters.after.ts, filters.after.request_id);
    where.push(`(ts, request_id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(filters.limit);
  const text = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ts DESC, request_id DESC LIMIT $${params.length}`;
  return { text, params };
}
