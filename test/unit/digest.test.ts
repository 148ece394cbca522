/** The constant-time comparison the admin key and MAC checks use. */
import { describe, expect, it } from "vitest";
import { timingSafeEqualText } from "../../src/crypto/digest.ts";

describe("timingSafeEqualText", () => {
  it("is true for the same text and false for any other", () => {
    const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    expect(timingSafeEqualText(hash, `${hash}`)).toBe(true);
    expect(timingSafeEqualText(hash, `${hash.slice(0, -1)}9`)).toBe(false);
    expect(timingSafeEqualText(hash, `0${hash.slice(1)}`)).toBe(false);
    expect(timingSafeEqualText(hash, hash.slice(1))).toBe(false);
    expect(timingSafeEqualText("", "")).toBe(true);
    expect(timingSafeEqualText("é", "e\u0301")).toBe(false);
    expect(timingSafeEqualText("日本", "日本")).toBe(true);
  });
});
