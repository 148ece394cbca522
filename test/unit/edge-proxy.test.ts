/** The bench's edge proxy sends each Upstash REST call where Upstash Global would: reads to a replica, anything that writes to the primary. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { caller, startEdgeProxy, storeOf } from "../../scripts/bench/edge-proxy.ts";

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

describe("whose call it is", () => {
  it("reads the process from the path its bindings put first, and forwards the path past it", () => {
    expect(caller("/as/fresh%203/pipeline")).toEqual({ from: "fresh 3", path: "/pipeline" });
    expect(caller("/as/router")).toEqual({ from: "router", path: "/" });
    expect(caller("/as/router?x=1")).toEqual({ from: "router", path: "/?x=1" });
    expect(caller("/pipeline")).toEqual({ from: "", path: "/pipeline" });
  });

  it("marks each call with the process whose bindings sent it, and forwards it unmarked", async () => {
    const seen: string[] = [];
    const upstash = createServer((req, res) => {
      seen.push(req.url ?? "");
      req.resume().on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('[{"result":"OK"}]'));
    });
    await new Promise<void>((resolve) => upstash.listen(0, "127.0.0.1", resolve));
    const { port } = upstash.address() as AddressInfo;
    const proxy = await startEdgeProxy(
      { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`, NEON_HTTP_ENDPOINT: `http://127.0.0.1:${port}/sql`, NEON_WS_PROXY: `127.0.0.1:${port}/v2` },
      { primary: 0, replica: 0, neon: 0 },
    );
    try {
      const pipeline = (bindings: Record<string, string>) =>
        fetch(`${bindings.UPSTASH_REDIS_REST_URL}/pipeline`, { method: "POST", body: JSON.stringify([["SET", "k", "v"]]) });
      await (await pipeline(proxy.as("fresh 1"))).arrayBuffer();
      await (await pipeline(proxy.bindings)).arrayBuffer();
      // A single command goes to the base URL itself; Neon's HTTP queries to its endpoint.
      await (await fetch(proxy.as("fresh 2").UPSTASH_REDIS_REST_URL!, { method: "POST", body: JSON.stringify(["GET", "k"]) })).arrayBuffer();
      await (await fetch(proxy.as("fresh 2").NEON_HTTP_ENDPOINT!, { method: "POST", body: "{}" })).arrayBuffer();
      expect(seen).toEqual(["/pipeline", "/pipeline", "/", "/sql"]);
      expect(proxy.calls().map(({ from, store, commands }) => ({ from, store, commands }))).toEqual([
        { from: "fresh 1", store: "primary", commands: ["SET"] },
        { from: "", store: "primary", commands: ["SET"] },
        { from: "fresh 2", store: "replica", commands: ["GET"] },
        { from: "fresh 2", store: "neon", commands: ["SQL"] },
      ]);
    } finally {
      await proxy.close();
      upstash.close();
    }
  });
});
