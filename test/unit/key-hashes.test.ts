/** The key directory remembers the SHA-256 of a presented key it found, and only of one it found. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createKeyDirectory } from "../../src/security/key-directory.ts";

const directory = () =>
  createKeyDirectory({ keyPrefix: "t", requireApiKey: true, redis: undefined, sql: undefined, tracked: (_store, call) => call(), clock: Date.now });
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

describe("the presented key's hash", () => {
  it("is the key's SHA-256, computed while the key was never found", async () => {
    const keys = directory();
    expect(await keys.hashOf("tg_live_unknown")).toBe(sha256("tg_live_unknown"));
  });

  it("is remembered once the key was found, not computed again", async () => {
    const keys = directory();
    // A marker no digest gives: what comes back is what was remembered.
    keys.found("tg_live_known", "remembered");
    expect(await keys.hashOf("tg_live_known")).toBe("remembered");
    expect(await keys.hashOf("tg_live_other")).toBe(sha256("tg_live_other"));
  });
});
