/** The bench's edge proxy sends each Upstash REST call where Upstash Global would: reads to a replica, anything that writes to the primary. */
import { describe, expect, it } from "vitest";
import { storeOf } from "../../scripts/bench/edge-proxy.ts";

describe("where an Upstash REST call goes", () => {
  it("sends a lone read, and a pipeline of reads only, to the replica", () => {
    expect(storeOf("/", JSON.stringify(["GET", "k"])).store).toBe("replica");
    expect(storeOf("/", JSON.stringify(["evalsha_ro", "abc", "1", "k"])).store).toBe("replica");
    expect(
      storeOf(
        "/pipeline",
        JSON.stringify([
          ["HGETALL", "a"],
          ["MGET", "b", "c"],
        ]),
      ),
    ).toEqual({ store: "replica", commands: ["HGETALL", "MGET"] });
    expect(storeOf("/get/some%20key", "").store).toBe("replica");
  });

  it("sends a write, any EVAL or EVALSHA, a pipeline with one write, and every transaction to the primary", () => {
    expect(storeOf("/", JSON.stringify(["SET", "k", "v"])).store).toBe("primary");
    expect(storeOf("/", JSON.stringify(["EVALSHA", "abc", "1", "k"])).store).toBe("primary");
    expect(storeOf("/", JSON.stringify(["EVAL", "return 1", "0"])).store).toBe("primary");
    expect(
      storeOf(
        "/pipeline",
        JSON.stringify([
          ["GET", "a"],
          ["INCRBY", "b", "1"],
        ]),
      ).store,
    ).toBe("primary");
    expect(storeOf("/multi-exec", JSON.stringify([["GET", "a"]])).store).toBe("primary");
  });
});
