/** The router in workerd for tests, with the fake provider and request helpers. */
import { DEFAULT_BEHAVIOUR, type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import type { Router } from "../../scripts/local/worker.ts";
import { startRouter } from "../../scripts/local/worker.ts";

export { type Router, startRouter } from "../../scripts/local/worker.ts";

/** Bindings that point both built-in providers at a fake upstream (retry backoff kept short: tests need no real waits). */
export function fakeProviders(baseUrl: string, key = "test-key-0123456789"): Record<string, string> {
  return { OPENROUTER_BASE_URL: baseUrl, OPENROUTER_API_KEY: key, GROQ_BASE_URL: baseUrl, GROQ_API_KEY: key, UPSTREAM_RETRY_BASE_MS: "5" };
}

let asked = 0;
/** A prompt no earlier test sent: the router's cache would answer a repeat without calling the provider. */
export const uniquePrompt = (text = "hi"): string => `${text} #${++asked}`;

/**
 * Waits until each router's view of the shared circuits is Redis's now: past its cache time
 * (`cacheMs`, the HEALTH_CACHE_MS it runs with), one request finds it stale and starts
 * the read in the background (reliability/breakers.ts), so the next request sees Redis.
 */
export async function freshCircuitView(cacheMs: number, ...routers: Router[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, cacheMs + 50));
  for (const router of routers) await (await router.fetch("/v1/models")).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

export const chat = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: "auto",
  messages: [{ role: "user", content }],
  ...extra,
});

/** A fake provider and a router pointed at it; `reset()` restores the fake's default behaviour. */
export async function startWithFakeProvider(bindings: Record<string, string> = {}, key?: string) {
  const fake = await startFakeUpstream();
  const router = await startRouter({ ...fakeProviders(fake.url, key), ...bindings });
  return {
    fake,
    router,
    reset: (): void => {
      fake.behaviour = { ...DEFAULT_BEHAVIOUR };
    },
    close: async (): Promise<void> => {
      await router.close();
      await fake.close();
    },
  };
}

/**
 * OpenRouter and Groq each on a fake of its own (one can fail while the other serves),
 * and routers started against them with the given bindings.
 */
export async function startTwoProviders() {
  const [openrouter, groq] = await Promise.all([startFakeUpstream(), startFakeUpstream()]);
  const bindings = (extra: Record<string, string> = {}): Record<string, string> => ({
    OPENROUTER_BASE_URL: openrouter.url,
    OPENROUTER_API_KEY: "test-openrouter-key-0123",
    GROQ_BASE_URL: groq.url,
    GROQ_API_KEY: "test-groq-key-0123456789",
    ...extra,
  });
  return {
    openrouter,
    groq,
    bindings,
    reset: (): void => {
      for (const fake of [openrouter, groq] as FakeUpstream[]) fake.behaviour = { ...DEFAULT_BEHAVIOUR };
    },
    close: (): Promise<unknown> => Promise.all([openrouter.close(), groq.close()]),
  };
}
