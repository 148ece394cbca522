/** The sanitiser: no piece of a configured secret, and no common key shape, reaches a client, a log or an audit row. */
import { describe, expect, it } from "vitest";
import { redactSecrets, sanitizeProviderMessage } from "../../src/security/redact.ts";

const KEY = "probe-provider-key-0123456789";

describe("the sanitiser", () => {
  it("redacts a configured secret whole, and any piece of it of eight characters or more", () => {
    expect(redactSecrets(`bad key ${KEY}`, [KEY])).toBe("bad key [redacted]");
    expect(sanitizeProviderMessage("Incorrect API key provided: probe-provide***", [KEY])).not.toContain("probe-provide");
    expect(redactSecrets("key ending in 0123456789 was refused", [KEY])).toBe("key ending in [redacted] was refused");
    // Shorter pieces say nothing of the key: ordinary words stay.
    expect(redactSecrets("the provider is down", [KEY])).toBe("the provider is down");
  });

  it("redacts Stripe and AWS key shapes", () => {
    const stripe = ["sk", "live", "4eC39HqLyjWDarjtT1zdp7dc"].join("_");
    const aws = ["AKIA", "IOSFODNN7EXAMPLE"].join("");
    const out = sanitizeProviderMessage(`stripe ${stripe} aws ${aws}`, []);
    expect(out).not.toContain(stripe);
    expect(out).not.toContain(aws);
  });
});
