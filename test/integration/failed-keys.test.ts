/**
 * What refused keys may cost (issue 23): random well-formed keys from one address make
 * a bounded number of Postgres look-ups, leave nothing in Redis, and are then refused
 * 429 before any look-up; a key already known still passes, and another address is
 * not held back. Against the real stack, counted where the stores count.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const LIMIT = 5;
let storage: TestStorage;
let app: Awaited<ReturnType<typeof startWithFakeProvider>>;

beforeAll(async () => {
  storage = await startTestStorage();
  app = await startWithFakeProvider({ ...storage.bindings, REQUIRE_API_KEY: "true", FAILED_KEY_CHECKS_PER_MINUTE: String(LIMIT) });
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

const randomKey = () => `tg_live_${randomBytes(24).toString("base64url").replace(/[-_]/g, "a").slice(0, 32)}`;
const from = (address: string, key: string) =>
  app.router.post("/v1/chat/completions", chat(uniquePrompt("who am I")), { authorization: `Bearer ${key}`, "cf-connecting-ip": address });

async function makeKey(): Promise<string> {
  const response = await app.router.post("/v1/admin/keys", { name: "failed checks" }, { authorization: `Bearer ${storage.bindings.ADMIN_API_KEY}` });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

describe("failed key checks per address", () => {
  it("bounds the look-ups random keys cause, leaves nothing in Redis, and spares known keys and other addresses", async () => {
    const known = await makeKey();
    expect((await from("203.0.113.7", known)).status).toBe(200);
    storage.stack.resetTraffic();
    const statuses: number[] = [];
    const codes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const response = await from("203.0.113.7", randomKey());
      statuses.push(response.status);
      codes.add(((await response.json()) as { error: { code: string } }).error.code);
      if (response.status === 429) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // The first LIMIT + 1 were looked up and refused 401; the rest never reached Postgres.
    expect(statuses.slice(0, LIMIT + 1)).toEqual(Array(LIMIT + 1).fill(401));
    expect(statuses.slice(LIMIT + 1)).toEqual(Array(40 - LIMIT - 1).fill(429));
    expect(codes).toEqual(new Set(["invalid_api_key", "too_many_failed_key_checks"]));
    const lookups = storage.stack.traffic().postgres.statements;
    expect(lookups).toBeLessThanOrEqual(LIMIT + 2);
    // No unknown key is remembered in Redis: the negative cache is the isolate's.
    const entries = await storage.redis.keys(`${storage.prefix}:key:*`);
    expect(entries.length).toBeLessThanOrEqual(1);
    // A key the router already knows still passes from the held-back address, and another address is not held back.
    expect((await from("203.0.113.7", known)).status).toBe(200);
    expect((await from("198.51.100.2", randomKey())).status).toBe(401);
    expect((await from("198.51.100.2", known)).status).toBe(200);
  });
});
