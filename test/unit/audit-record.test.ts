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
});
