/** The isolate's copies of stored responses are bounded by their size, not their count (storage/lru.ts `textLru`). */
import { describe, expect, it } from "vitest";
import { textLru } from "../../src/storage/lru.ts";

describe("textLru", () => {
  it("drops the least recently used texts until the rest fit, and keeps count of what it holds", () => {
    const texts = textLru(10);
    texts.set("a", "1234");
    texts.set("b", "1234");
    expect(texts.get("a")).toBe("1234"); // a is now the more recent
    texts.set("c", "1234");
    expect([texts.get("a"), texts.get("b"), texts.get("c")]).toEqual(["1234", undefined, "1234"]);
    expect(texts.chars).toBe(8);
    texts.set("a", "12");
    expect(texts.chars).toBe(6);
    texts.delete("c");
    expect(texts.chars).toBe(2);
  });

  it("keeps no text larger than its bound, and drops what was under that key", () => {
    const texts = textLru(10);
    texts.set("a", "1234");
    texts.set("a", "12345678901");
    expect(texts.get("a")).toBeUndefined();
    expect(texts.chars).toBe(0);
  });

  it("forgets a text past its time, and its size with it", async () => {
    const texts = textLru(10, 20);
    texts.set("a", "1234");
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(texts.get("a")).toBeUndefined();
    expect(texts.chars).toBe(0);
  });
});
