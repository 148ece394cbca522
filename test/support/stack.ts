/**
 * A suite's own stack: real Redis and Postgres, the fake provider, and a router over them,
 * started before the suite's tests and stopped after them. Before each test the fake's
 * behaviour is restored and what it saw forgotten, so a test counts its own provider calls.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { DEFAULT_BEHAVIOUR, type FakeBehaviour, type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import { fakeProviders, type Router, startRouter } from "./router.ts";
import { startTestStorage, type TestStorage } from "./storage.ts";

export type FakeStack = { storage: TestStorage; fake: FakeUpstream; router: Router };

export type FakeStackOptions = {
  /** The providers the router calls on the fake (its URL, their keys): OpenRouter and Groq unless said. */
  providers?: (fake: FakeUpstream) => Record<string, string>;
  /** The router's settings, over the storage's and the providers' bindings (REQUIRE_API_KEY, MODELS_JSON, a time-out). */
  bindings?: Record<string, string>;
  /** What the fake does from its start and at the start of every test: the default behaviour, with these fields. */
  behaviour?: Partial<FakeBehaviour>;
  /** Runs first (a Python venv, say). */
  before?: () => Promise<unknown>;
  timeoutMs?: number;
};

/** Read the stack's fields inside tests and hooks (a suite's own `beforeAll`, registered after this call, runs after this one's). */
export function useFakeStack(options: FakeStackOptions = {}): FakeStack {
  const stack = {} as FakeStack;
  const providers = options.providers ?? ((fake: FakeUpstream) => fakeProviders(fake.url));
  beforeAll(async () => {
    await options.before?.();
    stack.storage = await startTestStorage();
    stack.fake = await startFakeUpstream(structuredClone(options.behaviour));
    stack.router = await startRouter({ ...stack.storage.bindings, ...providers(stack.fake), ...options.bindings });
  }, options.timeoutMs ?? 60_000);
  afterAll(async () => {
    await stack.router?.close();
    await stack.fake?.close();
    await stack.storage?.close();
  });
  beforeEach(() => {
    // A copy each time: a test that changes an array in it (failModels) leaves the next test's alone.
    stack.fake.behaviour = { ...DEFAULT_BEHAVIOUR, ...structuredClone(options.behaviour) };
    stack.fake.seen.length = 0;
  });
  return stack;
}
