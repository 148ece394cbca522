import { describe, expect, it } from "vitest";
import { type AuditRecord, hasValidHmac, recordFromRow, signRecord } from "../../src/audit/record.ts";
import { hmacSigner } from "../../src/crypto/digest.ts";

const record: AuditRecord = {
  seq: 42,
  request_id: "9b2c6a57-1f0e-4c4e-9a57-2d3f7f0b8e11",
  ts: "2026-11-26T05:30:00.123Z",
  constitutional_hash: "cdd01ef066bc6cf2",
  key_id: null,
  tier: 3,
  score: 0.4821,
  model: "groq/llama-3.3-70b-versatile",
  provider: "groq",
  fallbacks_tried: ["groq/llama-3.3-70b-versatile"],
  cache_status: "MISS",
  http_status: 200,
  error_code: null,
  prompt_tokens: 120,
  completion_tokens: 80,
  cost_usd: 0.0001340800000000001,
  latency_ms: 231,
  upstream_ms: 229,
  overhead_ms: 2,
  streamed: false,
  truncated: false,
  request_sha256: "a".repeat(64),
};

describe("audit record signing", () => {
  it("verifies its own HMAC and fails on any change or another key", async () => {
    const { hmac } = await signRecord(record, hmacSigner("k".repeat(32)));
    expect(await hasValidHmac(record, hmac, hmacSigner("k".repeat(32)))).toBe(true);
    expect(await hasValidHmac({ ...record, cost_usd: 0 }, hmac, hmacSigner("k".repeat(32)))).toBe(false);
    expect(await hasValidHmac({ ...record, seq: 43 }, hmac, hmacSigner("k".repeat(32)))).toBe(false);
    expect(await hasValidHmac(record, hmac, hmacSigner("j".repeat(32)))).toBe(false);
  });

  it("rebuilds the same record from a row as the Postgres drivers return it", async () => {
    const row = {
      ...record,
      seq: "42", // bigint comes back as text
      ts: new Date(record.ts), // timestamptz as a Date
      fallbacks_tried: JSON.stringify(record.fallbacks_tried),
      hmac: "h",
    };
    expect(recordFromRow(row)).toEqual({ record, hmac: "h" });
  });

  it("signs the usage classes of a new row, and still verifies a row signed before they existed", async () => {
    const sign = hmacSigner("k".repeat(32));
    const classes = { cache_read_tokens: 100, cache_write_tokens: 0, cache_write_1h_tokens: 15, reasoning_tokens: 30 };
    const withClasses: AuditRecord = { ...record, ...classes };
    const { hmac } = await signRecord(withClasses, sign);
    // A row as the drivers return it: bigint as text; the old row's class columns NULL.
    const newRow = {
      ...withClasses,
      seq: "42",
      ts: new Date(record.ts),
      fallbacks_tried: record.fallbacks_tried,
      cache_read_tokens: "100",
      cache_write_1h_tokens: "15",
      reasoning_tokens: "30",
      hmac,
    };
    const rebuilt = recordFromRow(newRow);
    expect(rebuilt.record).toEqual(withClasses);
    expect(await hasValidHmac(rebuilt.record, hmac, sign)).toBe(true);
    expect(await hasValidHmac(recordFromRow({ ...newRow, cache_read_tokens: "0" }).record, hmac, sign)).toBe(false);

    const old = await signRecord(record, sign);
    const oldRow = {
      ...record,
      ts: new Date(record.ts),
      cache_read_tokens: null,
      cache_write_tokens: null,
      cache_write_1h_tokens: null,
      reasoning_tokens: null,
      hmac: old.hmac,
    };
    expect(await hasValidHmac(recordFromRow(oldRow).record, old.hmac, sign)).toBe(true);
  });

  it("signs whose credential served a row (migrations/0014), and still verifies a row from before the column", async () => {
    const sign = hmacSigner("k".repeat(32));
    const tenants: AuditRecord = { ...record, credential: "tenant" };
    const { hmac } = await signRecord(tenants, sign);
    const row = { ...tenants, ts: new Date(record.ts), hmac };
    expect(recordFromRow(row).record).toEqual(tenants);
    expect(await hasValidHmac(recordFromRow(row).record, hmac, sign)).toBe(true);
    // Whose credential cannot be changed after the fact.
    expect(await hasValidHmac(recordFromRow({ ...row, credential: "router" }).record, hmac, sign)).toBe(false);
    const before = await signRecord(record, sign);
    expect(await hasValidHmac(recordFromRow({ ...record, ts: new Date(record.ts), credential: null, hmac: before.hmac }).record, before.hmac, sign)).toBe(true);
  });
});
