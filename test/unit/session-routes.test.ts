/** Sessions through the app in process (no stores): /v1/route's session fields, the header's limit, and CORS for both headers. */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";

const app = createApp();
async function request(path: string, init: RequestInit = {}, bindings: Record<string, string> = {}): Promise<Response> {
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (work: Promise<unknown>) => void pending.push(work), passThroughOnException: () => {}, props: {} };
  const response = await app.request(path, init, bindings, ctx as unknown as Parameters<typeof app.request>[3]);
  await Promise.all(pending);
  return response;
}
const route = (headers: Record<string, string>, bindings: Record<string, string> = {}) =>
  request(
    "/v1/route",
    {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }] }),
    },
    bindings,
  );

describe("/v1/route in a session", () => {
  it("shows the session's digest and what the turn does to it, in the body and the headers", async () => {
    const response = await route({ "x-session-id": "my-session" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { session: string; affinity: string };
    expect(body.session).toMatch(/^[0-9a-f]{32}$/);
    expect(body.affinity).toBe("new");
    expect(response.headers.get("x-tiergate-session")).toBe(body.session);
    expect(response.headers.get("x-tiergate-affinity")).toBe("new");
    expect(response.headers.get("x-tiergate-reason")).toMatch(/session new/);
  });

  it("says nothing of affinity with SESSION_AFFINITY=off, but still names the session", async () => {
    const response = await route({ "x-session-id": "my-session" }, { SESSION_AFFINITY: "off" });
    const body = (await response.json()) as { session: string; affinity: string | null };
    expect(body.affinity).toBeNull();
    expect(body.session).toMatch(/^[0-9a-f]{32}$/);
    expect(response.headers.get("x-tiergate-affinity")).toBeNull();
  });

  it("refuses an x-session-id over 256 characters in OpenAI's error format, naming the header", async () => {
    const response = await route({ "x-session-id": "x".repeat(257) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: unknown }).error).toMatchObject({ param: "x-session-id", code: "invalid_value" });
  });
});

describe("CORS for sessions", () => {
  it("lets a listed origin send x-session-id and read the session headers", async () => {
    const preflight = await request(
      "/v1/chat/completions",
      {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "x-session-id" },
      },
      { CORS_ORIGINS: "https://app.example" },
    );
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/x-session-id/);
    const answered = await route({ origin: "https://app.example", "x-session-id": "s" }, { CORS_ORIGINS: "https://app.example" });
    expect(answered.headers.get("access-control-expose-headers")).toMatch(/x-tiergate-session.*x-tiergate-affinity/);
  });
});
