/**
 * tpm under a burst (issue 36, item 5): twenty concurrent requests on a `tpm: 100` key
 * admit no more estimated tokens than docs/api.md's bound, and what their answers used
 * past their estimates is kept as a debt the key waits out. Against the real stack.
 */
import { describe, expect, it } from "vitest";
import { chat } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const stack = useFakeStack({ bindings: { REQUIRE_API_KEY: "true" } });
const admin = () => ({ authorization: `Bearer ${stack.storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const bearer = (key: string) => ({ authorization: `Bearer ${key}`, "cache-control": "no-cache" });
const TPM = 100;
/** docs/api.md, "Tokens per minute": estimated tokens admitted over any T seconds. */
const bound = (seconds: number): number => TPM * (1 + (seconds + 6) / 60);

describe("tokens per minute under a burst", () => {
  it("admits at most the stated bound of estimates, and keeps what answers used past them as a debt", async () => {
    const made = await stack.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "burst", tpm: TPM }) });
    const { key, id } = (await made.json()) as { key: string; id: string };
    // Every prompt is as long as this one: the router's estimate of each is the same.
    const body = (i: number) => chat(`burst ${10 + i}`, { max_tokens: 1 });
    const routed = await stack.router.post("/v1/route", body(0), bearer(stack.storage.bindings.ADMIN_API_KEY!));
    const estimate = ((await routed.json()) as { estimated_prompt_tokens: number }).estimated_prompt_tokens + 1;
    // The provider counts the prompt as 14 tokens: each answer uses more than its estimate.
    stack.fake.behaviour.promptTokens = 14;
    const used = 14 + 1;
    expect(used).toBeGreaterThan(estimate);

    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.router.post("/v1/chat/completions", body(i), bearer(key))));
    const seconds = (performance.now() - started) / 1_000;
    const served = responses.filter((r) => r.status === 200);
    for (const r of served) expect(((await r.json()) as { usage: { total_tokens: number } }).usage.total_tokens).toBe(used);
    expect(responses.filter((r) => r.status !== 200).map((r) => r.status)).toEqual(Array(20 - served.length).fill(429));
    expect(served.length).toBeGreaterThan(0);
    // The bound holds for what was admitted, counted as estimates; used tokens pass it by the answers' overrun alone.
    expect(served.length * estimate).toBeLessThanOrEqual(bound(seconds));
    expect(served.length * used).toBeLessThanOrEqual(bound(seconds) + served.length * (used - estimate));

    // The corrections have landed: the bucket is below zero, a debt.
    const deadline = Date.now() + 3_000;
    let left = TPM;
    while (Date.now() < deadline) {
      left = Number((await stack.storage.redis.hGetAll(`${stack.storage.prefix}:limit:tokens:${id}`)).t);
      if (left < 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).toBeLessThan(0);
    // So the next request waits, though this isolate may still hold a slice granted before the debt.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const next = await stack.router.post("/v1/chat/completions", body(20), bearer(key));
    expect(next.status).toBe(429);
    expect((await next.json()).error.code).toBe("rate_limit_exceeded");
    expect(next.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
    // Until the bucket has refilled past the debt (less what this isolate's slices gave back) and the request's estimate.
    expect(Number(next.headers.get("retry-after"))).toBeGreaterThan(1);
  });
});
