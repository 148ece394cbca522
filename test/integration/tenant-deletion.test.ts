/**
 * Deleting a tenant leaves nothing of it to the next key made with its id (issue 36, item
 * 4): not its stored responses, not its cached answers. Against the real stack.
 */
import { describe, expect, it } from "vitest";
import { chat, uniquePrompt } from "../support/router.ts";
import { useFakeStack } from "../support/stack.ts";

const stack = useFakeStack({ bindings: { REQUIRE_API_KEY: "true" } });
const admin = () => ({ authorization: `Bearer ${stack.storage.bindings.ADMIN_API_KEY}`, "content-type": "application/json" });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function makeKey(tenant: string): Promise<string> {
  const response = await stack.router.fetch("/v1/admin/keys", { method: "POST", headers: admin(), body: JSON.stringify({ name: "deletion", tenant }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

/** The stored response as `key` reads it; the save may land just after the answer, so a 404 is asked again for a while. */
async function readStored(key: string, id: string, expected: number): Promise<Response> {
  for (let tries = 0; ; tries++) {
    const response = await stack.router.fetch(`/v1/responses/${id}`, { headers: bearer(key) });
    if (response.status === expected || tries === 40) return response;
    await response.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("DELETE /v1/admin/tenants/{id}", () => {
  it("a key made later with the same tenant id reads none of its stored responses and hits none of its cache", async () => {
    const tenant = `gone-${Date.now().toString(36)}`;
    const before = await makeKey(tenant);

    const stored = await stack.router.post("/v1/responses", { model: "auto", input: uniquePrompt("Remember the word heron.") }, bearer(before));
    expect(stored.status).toBe(200);
    const { id, output_text } = (await stored.json()) as { id: string; output_text: string };
    const read = await readStored(before, id, 200);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { output_text: string }).output_text).toBe(output_text);

    const question = chat(uniquePrompt("What is the capital of Peru?"));
    const miss = await stack.router.post("/v1/chat/completions", question, bearer(before));
    await miss.arrayBuffer();
    expect(miss.headers.get("x-tiergate-cache")).toBe("MISS");
    const hit = await stack.router.post("/v1/chat/completions", question, bearer(before));
    await hit.arrayBuffer();
    expect(hit.headers.get("x-tiergate-cache")).toBe("HIT");

    const deleted = await stack.router.fetch(`/v1/admin/tenants/${tenant}`, { method: "DELETE", headers: admin() });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ id: tenant, keys_revoked: 1 });
    expect((await stack.router.fetch(`/v1/responses/${id}`, { headers: bearer(before) })).status).toBe(401);

    const after = await makeKey(tenant);
    const gone = await stack.router.fetch(`/v1/responses/${id}`, { headers: bearer(after) });
    expect(gone.status).toBe(404);
    const continued = await stack.router.post("/v1/responses", { model: "auto", previous_response_id: id, input: "What was the word?" }, bearer(after));
    expect(continued.status).toBe(404);
    const fresh = await stack.router.post("/v1/chat/completions", question, bearer(after));
    await fresh.arrayBuffer();
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("x-tiergate-cache")).toBe("MISS");

    // The new generation is a scope like any: its own answers are cached and its own responses kept.
    const again = await stack.router.post("/v1/chat/completions", question, bearer(after));
    await again.arrayBuffer();
    expect(again.headers.get("x-tiergate-cache")).toBe("HIT");
    const own = await stack.router.post("/v1/responses", { model: "auto", input: uniquePrompt("Remember the word egret.") }, bearer(after));
    const ownId = ((await own.json()) as { id: string }).id;
    expect((await readStored(after, ownId, 200)).status).toBe(200);
  });
});
