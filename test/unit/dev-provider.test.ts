import { describe, expect, it } from "vitest";
import { fakeProviderReason } from "../../scripts/local/dev-provider.ts";

describe("npm run dev's fake provider", () => {
  it("answers with it when no provider is configured, so a first run needs no account", () => {
    expect(fakeProviderReason([], {})).toBe("no provider is configured");
    expect(fakeProviderReason([], { OPENROUTER_API_KEY: "  " })).toBe("no provider is configured");
  });

  it("uses the providers set in .dev.vars instead, unless asked for the fake", () => {
    expect(fakeProviderReason([], { OPENROUTER_API_KEY: "sk-or-1" })).toBeUndefined();
    expect(fakeProviderReason([], { GROQ_API_KEY: "gsk_1" })).toBeUndefined();
    expect(fakeProviderReason([], { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE" })).toBeUndefined();
    expect(fakeProviderReason([], { CUSTOM_PROVIDERS: '[{"id":"ollama"}]' })).toBeUndefined();
    expect(fakeProviderReason(["--fake-upstream"], { OPENROUTER_API_KEY: "sk-or-1" })).toBe("asked for");
    expect(fakeProviderReason(["--no-fake-upstream"], {})).toBeUndefined();
  });
});
