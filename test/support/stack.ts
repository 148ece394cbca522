/** A suite's own storage and a router over it with the fake provider: started before the suite's tests, stopped after. */
import { afterAll, beforeAll } from "vitest";
import { startWithFakeProvider } from "./router.ts";
import { startTestStorage, type TestStorage } from "./storage.ts";

export type FakeStack = { storage: TestStorage; app: Awaited<ReturnType<typeof startWithFakeProvider>> };

/** `bindings` go over the storage's own (REQUIRE_API_KEY, MODELS_JSON, a time-out). Read `stack.app` and `stack.storage` inside tests and hooks. */
export function useFakeStack(bindings: Record<string, string> = {}): FakeStack {
  const stack = {} as FakeStack;
  beforeAll(async () => {
    stack.storage = await startTestStorage();
    stack.app = await startWithFakeProvider({ ...stack.storage.bindings, ...bindings });
  }, 60_000);
  afterAll(async () => {
    await stack.app?.close();
    await stack.storage?.close();
  });
  return stack;
}
