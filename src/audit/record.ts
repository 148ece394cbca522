/** The audit record: one per request, signed over its canonical JSON, never holding prompt or answer. */
import type { CacheStatus } from "../cache/policy.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { type Hmac, hmacSha256Hex, hmacSigner, timingSafeEqualText } from "../crypto/digest.ts";

/** Field names are the audit_log columns (migrations/0001_audit_log.sql). */
export type AuditRecord = {
  seq: number | null;
  request_id: string;
  ts: string;
  constitutional_hash: string | null;
  key_id: string | null;
  tier: number | null;
  score: number | null;
  model: string | null;
  provider: string | null;
  fallbacks_tried: string[];
  cache_status: CacheStatus;
  http_status: number;
  error_code: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cost_usd: number | null;
  latency_ms: number;
  upstream_ms: number | null;
  overhead_ms: number;
  streamed: boolean;
  truncated: boolean;
  /** Version 1 only: a plain SHA-256 of the request. Records from version 2 on leave it null and carry `request_hmac`. */
  request_sha256: string | null;
} & Partial<AuditExtensions>;

/**
 * Columns added after the first release (migrations/0002 on). The signature covers
 * one only when it is set, so every record signed before the column existed still
 * verifies: its canonical JSON never had the key.
 */
export type AuditExtensions = {
  /**
   * HMAC-SHA-256 of the normalised request under a key derived from AUDIT_HMAC_KEY
   * (`requestDigestKey`): proves what was asked without letting anyone who reads the
   * rows confirm a guessed prompt offline.
   */
  request_hmac: string;
  /** What the router changed in the provider's usage report before pricing and storing it. */
  usage_adjusted: string[];
  /** The tenant of the client key (migrations/0003). */
  tenant_id: string;
  /** Set when a rate limit could not be checked and the request was served unlimited (migrations/0004). */
  limit_note: string;
  /** Every provider call, in order: model, outcome (ok or the error code), milliseconds (migrations/0005). */
  attempts: { model: string; outcome: string; ms: number }[];
  /** The decision's feature vector, in the order of src/routing/features.ts: numbers only, never text (migrations/0007). */
  features: number[];
  /** The routing model that scored the request (RouterModel.version), so training knows which decisions a model made (migrations/0007). */
  router_model: string;
  /** The API surface the request came through: "chat_completions", "messages" or "responses" (migrations/0009). */
  surface: string;
  /** The id of the Responses API response stored with this answer; never what it held (migrations/0010). */
  stored_response: string;
  /** Prompt tokens read from the provider's cache: part of `prompt_tokens` (migrations/0011, as are the three below). */
  cache_read_tokens: number;
  /** Prompt tokens written to the provider's cache for 5 minutes: part of `prompt_tokens`. */
  cache_write_tokens: number;
  /** Prompt tokens written to the provider's cache for 1 hour: part of `prompt_tokens`. */
  cache_write_1h_tokens: number;
  /** Completion tokens spent reasoning: part of `completion_tokens`. */
  reasoning_tokens: number;
  /** The session's digest, as x-tiergate-session showed it; never the id the client sent (migrations/0012). */
  session: string;
  /** What the turn did to its session: "new", "kept" or "moved" (migrations/0012). */
  affinity: string;
  /** Whose credential the provider that answered was called with: "router" or "tenant" (migrations/0014). */
  credential: "router" | "tenant";
};
const EXTENSIONS = [
  "request_hmac",
  "usage_adjusted",
  "tenant_id",
  "limit_note",
  "attempts",
  "features",
  "router_model",
  "surface",
  "stored_response",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_1h_tokens",
  "reasoning_tokens",
  "session",
  "affinity",
  "credential",
] as const satisfies readonly (keyof AuditExtensions)[];

export type SignedRecord = AuditRecord & { hmac: string };

export async function signRecord(record: AuditRecord, hmac: Hmac): Promise<SignedRecord> {
  return { ...record, hmac: await hmac(canonicalJson(record)) };
}

export async function hasValidHmac(record: AuditRecord, given: string, hmac: Hmac): Promise<boolean> {
  return timingSafeEqualText(await hmac(canonicalJson(record)), given);
}

/** The key of `request_hmac`: derived from the signing key, so it is never the signing key itself. */
export function requestDigestKey(hmacKey: string): Promise<string> {
  return hmacSha256Hex(hmacKey, "tiergate request digest v2");
}

/** What signs a deployment's records: the record HMAC and the request digest, each key imported once. */
export type AuditSigner = { record: Hmac; request: Hmac };

export function createAuditSigner(hmacKey: string): AuditSigner {
  const record = hmacSigner(hmacKey);
  let request: Promise<Hmac> | undefined;
  return {
    record,
    request: async (text) => {
      request ??= requestDigestKey(hmacKey).then(hmacSigner);
      return (await request)(text);
    },
  };
}

/**
 * Rebuilds the record from an audit_log row as the Neon or pg driver returns it
 * (bigint as text, timestamptz as Date, jsonb parsed), so its HMAC can be checked.
 */
export function recordFromRow(row: Record<string, unknown>): { record: AuditRecord; hmac: string } {
  const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
  const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
  const ts = row.ts instanceof Date ? row.ts : new Date(String(row.ts));
  const fallbacks = typeof row.fallbacks_tried === "string" ? JSON.parse(row.fallbacks_tried) : row.fallbacks_tried;
  return {
    hmac: String(row.hmac),
    record: {
      seq: num(row.seq),
      request_id: String(row.request_id),
      ts: ts.toISOString(),
      constitutional_hash: text(row.constitutional_hash),
      key_id: text(row.key_id),
      tier: num(row.tier),
      score: num(row.score),
      model: text(row.model),
      provider: text(row.provider),
      fallbacks_tried: Array.isArray(fallbacks) ? fallbacks.map(String) : [],
      cache_status: String(row.cache_status) as CacheStatus,
      http_status: Number(row.http_status),
      error_code: text(row.error_code),
      prompt_tokens: num(row.prompt_tokens),
      completion_tokens: num(row.completion_tokens),
      cost_usd: num(row.cost_usd),
      latency_ms: Number(row.latency_ms),
      upstream_ms: num(row.upstream_ms),
      overhead_ms: Number(row.overhead_ms),
      streamed: Boolean(row.streamed),
      truncated: Boolean(row.truncated),
      request_sha256: text(row.request_sha256),
      ...extensionsFromRow(row),
    },
  };
}

/** Extension columns of type bigint, which the drivers return as text. */
const COUNTS: ReadonlySet<string> = new Set(["cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens"]);

/** The extension columns that are set; a null column stays out of the record, as it was when signed. */
function extensionsFromRow(row: Record<string, unknown>): Partial<AuditExtensions> {
  const out: Record<string, unknown> = {};
  for (const name of EXTENSIONS) {
    const value = row[name];
    if (value === null || value === undefined) continue;
    if (COUNTS.has(name)) out[name] = Number(value);
    else out[name] = (name === "usage_adjusted" || name === "attempts" || name === "features") && typeof value === "string" ? JSON.parse(value) : value;
  }
  return out as Partial<AuditExtensions>;
}
