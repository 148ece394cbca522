/** What every bench run sends: its prompt, its bodies and headers, its keys, and a client key made through the admin route. */

export const PROMPT =
  "Summarise this support ticket in two sentences and suggest a priority (low, medium, high): " +
  "The customer reports that since yesterday's release the export to CSV button times out for reports with more than " +
  "ten thousand rows. Smaller reports work. They need the export for a board meeting on Friday and ask whether a workaround exists.";
export const chatBody = (content: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: "auto", messages: [{ role: "user", content }], ...extra });
export const JSON_HEADERS = { "content-type": "application/json" };
/** The fake provider's key, as every provider binding of the bench's routers gives it. */
export const PROVIDER_KEY = "bench-provider-key-0123456789";
export const ADMIN_KEY = "bench-admin-key-0123456789";
export const AUDIT_KEY = "bench-audit-key-0123456789";

/** Limits and budgets that apply to every request but are never reached in a bench. */
export const NEVER_REACHED = { rpm: 1_000_000_000, tpm: 2_000_000_000, daily_budget_usd: 1_000_000, monthly_budget_usd: 10_000_000 };

/** A client key made through the router's admin route, in tenant "bench". */
export async function makeKey(routerUrl: string, fields: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${routerUrl}/v1/admin/keys`, {
    method: "POST",
    headers: { ...JSON_HEADERS, authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ name: "bench", tenant: "bench", ...fields }),
  });
  if (response.status !== 201) throw new Error(`could not make the bench's client key: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}
