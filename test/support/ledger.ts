/** A router's keys and what they spent, for the money tests: make a key, then wait for its rows and its spend to agree. */
import { expect } from "vitest";
import type { Router } from "./router.ts";
import { auditRows, type TestStorage } from "./storage.ts";

export function ledgerOf(app: () => { router: Router }, storage: () => TestStorage, name: string) {
  const admin = () => ({ authorization: `Bearer ${storage().bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
  const day = () => new Date().toISOString().slice(0, 10).replaceAll("-", "");
  /** The key's spent counter today, in micro-dollars, as the after-response batch has counted it. */
  const spent = async (keyId: string): Promise<number> => Number((await storage().redis.get(`${storage().prefix}:spend:key:${keyId}:d:${day()}`)) ?? 0);
  return {
    spent,
    async makeKey(fields: Record<string, unknown>): Promise<{ id: string; key: string }> {
      const response = await app().router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name, ...fields }) });
      expect(response.status).toBe(201);
      return response.json();
    },
    /** The key's audit rows once `count` of them are in Postgres, and its spend once it equals their sum (settling runs after the answer). */
    async settledRows(keyId: string, count: number): Promise<{ rows: Record<string, unknown>[]; micros: number }> {
      const deadline = Date.now() + 10_000;
      let rows: Record<string, unknown>[] = [];
      while (rows.length < count && Date.now() < deadline) {
        await app().router.scheduled();
        rows = (await auditRows(storage().db)).filter((row) => row.key_id === keyId);
      }
      expect(rows).toHaveLength(count);
      const micros = rows.reduce((sum, row) => sum + Math.round(Number(row.cost_usd ?? 0) * 1e6), 0);
      while ((await spent(keyId)) !== micros && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return { rows, micros };
    },
  };
}
