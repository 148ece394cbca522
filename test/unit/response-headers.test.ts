/** Headers set after the handler: in place on an answer the router built, on Hono's copy when the headers are immutable. */
import { Hono } from "hono/tiny";
import { describe, expect, it } from "vitest";
import { setResponseHeaders } from "../../src/middleware/response-headers.ts";

function appAnswering(answer: () => Response) {
  const seen: { same?: boolean } = {};
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    const before = c.res;
    setResponseHeaders(c, { "x-one": "1", "x-two": "2" });
    seen.same = c.res === before;
  });
  app.get("/", () => answer());
  return { app, seen };
}

describe("setResponseHeaders", () => {
  it("sets them on the answer itself, making no copy", async () => {
    const { app, seen } = appAnswering(() => new Response("ok"));
    const response = await app.request("/");
    expect([response.headers.get("x-one"), response.headers.get("x-two")]).toEqual(["1", "2"]);
    expect(seen.same).toBe(true);
  });

  it("sets them on a copy when the answer's headers cannot change", async () => {
    const { app, seen } = appAnswering(() => Response.redirect("http://example.com/", 302));
    const response = await app.request("/");
    expect([response.status, response.headers.get("x-one"), response.headers.get("x-two")]).toEqual([302, "1", "2"]);
    expect(seen.same).toBe(false);
  });
});
