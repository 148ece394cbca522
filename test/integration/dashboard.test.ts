/**
 * The live dashboard in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): it asks for the admin key, loads, draws every chart with data
 * while traffic flows, and logs no console error. With DASHBOARD_SCREENSHOT=path it
 * also saves a screenshot there (the README's is made so).
 */
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let browser: Browser;

beforeAll(async () => {
  storage = await startTestStorage();
  stack = await startWithFakeProvider({ ...storage.bindings, CACHE_LOCAL_TTL_SECONDS: "1" });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
});
afterAll(async () => {
  await browser?.close();
  await stack.close();
  await storage.close();
});

describe("GET /dashboard", () => {
  it("loads with the admin key, draws non-empty charts from live traffic, and logs no console errors", async () => {
    let stop = false;
    // Most of each prompt read from the provider's cache, a little written to it.
    Object.assign(stack.fake.behaviour, {
      completionTokens: 8,
      usage: { prompt_tokens: 20, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 15, cache_write_tokens: 4 } },
    });
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        // Every third prompt repeats, so the hit ratio has something to show.
        const prompt = i % 3 === 2 ? "a prompt asked again" : uniquePrompt("dashboard");
        await (await stack.router.post("/v1/chat/completions", chat(prompt, { model: `tier:${1 + (i % 3)}`, stream: i % 2 === 0 }))).arrayBuffer();
      }
    })();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    const requested: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    try {
      await page.goto(`${stack.router.url}/dashboard?every=400`);
      await page.waitForSelector("#login:not([hidden])");
      await page.fill("#key", storage.bindings.ADMIN_API_KEY!);
      await page.click("#login button");
      await page.waitForSelector("#board:not([hidden])");
      // Five charts, each a canvas with pixels drawn on it, and several points in each.
      await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length === 5, undefined, { timeout: 10_000 });
      await page.waitForTimeout(2_000);
      const drawn = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLCanvasElement>(".uplot canvas")].map((canvas) => {
          const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted += 1;
          return painted;
        }),
      );
      expect(drawn).toHaveLength(5);
      for (const painted of drawn) expect(painted).toBeGreaterThan(500);
      expect(Number(await page.textContent("#rps"))).toBeGreaterThan(0);
      expect(await page.textContent("#hit")).toMatch(/^\d+\.\d%$/);
      // 15 of every 20 input tokens read from the cache, hits included (they replay answers that read as much).
      expect(await page.textContent("#cache-read")).toBe("75.0%");
      expect(await page.textContent("#circuits tbody")).toContain("provider:groq");
      if (process.env.DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    } finally {
      stop = true;
      await traffic;
      await page.close();
    }
    expect(errors).toEqual([]);
    // Nothing outside the worker: every request the page made went to the router.
    expect(requested.every((url) => url.startsWith(stack.router.url))).toBe(true);
  });

  it("gives its figures only to the admin key", async () => {
    expect((await stack.router.fetch("/dashboard/data")).status).toBe(401);
    const page = await stack.router.fetch("/dashboard");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).not.toContain(storage.bindings.ADMIN_API_KEY!);
  });
});
