/**
 * `npm run deploy` and `npm run rollback` against a stand-in for wrangler (it records
 * every call and fails on cue), with a real router on loopback as the environment's
 * URL: a rollout that succeeds, a smoke test that fails before any traffic moves, an
 * error rate that rises mid-rollout and is rolled back, and the dry run's plan.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chat, startWithFakeProvider, uniquePrompt } from "../support/router.ts";
import { runScript } from "../support/scripts.ts";
import { startTestStorage, type TestStorage } from "../support/storage.ts";

const STAND_IN = fileURLToPath(new URL("../support/fake-wrangler.ts", import.meta.url));
const OLD = "00000000-0000-4000-8000-000000000001";
const NEW = "00000000-0000-4000-8000-000000000101";
let storage: TestStorage;
let stack: Awaited<ReturnType<typeof startWithFakeProvider>>;
let dir: string;

beforeAll(async () => {
  storage = await startTestStorage();
  // Breakers off: the failures one test causes must not close models to the next one's smoke test.
  // No retries: a failing answer comes back at once, so each rollout step sees enough of them within its wait.
  stack = await startWithFakeProvider({ ...storage.bindings, BREAKER_FAILURES: "0", UPSTREAM_RETRIES: "0" });
});
afterAll(async () => {
  await stack.close();
  await storage.close();
});
beforeEach(() => {
  stack.reset();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(`${tmpdir()}/tiergate-wrangler-`);
});

/** Runs a deploy script to the suite's router, with the stand-in as wrangler. */
function run(script: "deploy" | "rollback", args: string[], fail?: string) {
  const env: Record<string, string> = {
    WRANGLER: `node --experimental-strip-types --no-warnings ${STAND_IN}`,
    FAKE_WRANGLER_DIR: dir,
    ADMIN_API_KEY: storage.bindings.ADMIN_API_KEY!,
    ...(fail === undefined ? {} : { FAKE_WRANGLER_FAIL: fail }),
  };
  return runScript(storage, script, [...args, "--url", stack.router.url], env, 120_000);
}
const calls = (): string[] =>
  existsSync(`${dir}/calls.jsonl`)
    ? readFileSync(`${dir}/calls.jsonl`, "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as string[]).join(" "))
    : [];
const deploys = () => calls().filter((call) => call.startsWith("versions deploy"));

describe("npm run deploy", () => {
  it("builds within budget, uploads, smoke-tests the new version, and moves traffic step by step", async () => {
    const result = await run("deploy", ["staging", "--skip-checks", "--step-wait-seconds", "0.2"]);
    expect(result.stderr).not.toContain("FAILED");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\[build\] bundle \d+\.\d KiB gzipped \(budget 250 KiB\)/);
    expect(result.stdout).toContain("[migrate] $ npm run --silent migrate");
    expect(result.stdout).toContain(`deployed ${NEW} to staging`);
    expect(calls().map((call) => call.split(" --")[0])).toEqual([
      "deployments status",
      "versions upload",
      `versions deploy ${NEW}@50% ${OLD}@50%`,
      `versions deploy ${NEW}@100%`,
    ]);
  });

  it("stops at a failed smoke test before any traffic moves", async () => {
    stack.fake.behaviour.errorStatus = 500;
    const result = await run("deploy", ["staging", "--skip-checks", "--step-wait-seconds", "0.2"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/deploy FAILED at smoke 0{8}-0000-4000-8000-000000000101: \/v1\/chat\/completions answered 502/);
    expect(calls()).toContainEqual(expect.stringMatching(/^versions upload/));
    expect(deploys()).toEqual([]);
  });

  it("stops at the first failing step: a wrangler upload that fails moves nothing", async () => {
    const result = await run("deploy", ["staging", "--skip-checks"], "versions upload");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/deploy FAILED at upload: `.*versions upload .*` exited 1/);
    expect(deploys()).toEqual([]);
  });

  it("rolls back on its own when the error rate rises mid-rollout", async () => {
    // Traffic all along, flushed to the audit log; once the new version takes its first share, answers start failing.
    let stop = false;
    const traffic = (async () => {
      let sent = 0;
      while (!stop) {
        await (await stack.router.post("/v1/chat/completions", chat(uniquePrompt("rollout")))).arrayBuffer();
        if (++sent % 10 === 0) await stack.router.scheduled();
        if (deploys().length > 0) stack.fake.behaviour.errorStatus = 500;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const result = await run("deploy", ["staging", "--skip-checks", "--step-wait-seconds", "1.5"]);
    stop = true;
    await traffic;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/deploy FAILED at rollout 50%: 5xx share \d+\.\d% of \d+ requests, against 0\.0% before the rollout/);
    expect(result.stderr).toContain(`rolled back to ${OLD}`);
    expect(deploys().map((call) => call.split(" --")[0])).toEqual([`versions deploy ${NEW}@50% ${OLD}@50%`, `versions deploy ${OLD}@100%`]);
  });

  it("prints the plan and the bundle size in a dry run, and runs nothing else", async () => {
    const result = await run("deploy", ["production", "--dry-run"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("plan: checks → build (≤ 250 KiB gzipped) → migrate → upload → smoke at 0% → 10% → 50% → 100%");
    for (const step of [
      "npm run --silent typecheck",
      "npm run --silent lint",
      "npm run --silent test",
      "versions upload --env production",
      "versions deploy <new-version-id>@10% <current-version-id>@90%",
    ]) {
      expect(result.stdout).toContain(step);
    }
    expect(result.stdout).toMatch(/\[build\] bundle \d+\.\d KiB gzipped \(budget 250 KiB\)/);
    expect(calls()).toEqual([]);
  });
});

describe("npm run rollback", () => {
  it("puts the previous version back and smoke-tests it; a failing wrangler is reported", async () => {
    expect((await run("deploy", ["staging", "--skip-checks", "--step-wait-seconds", "0"])).code).toBe(0);
    const back = await run("rollback", ["staging"]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("rolled staging back to the previous version");
    expect(calls().at(-1)).toMatch(/^rollback --env staging --yes/);
    expect(JSON.parse(readFileSync(`${dir}/state.json`, "utf8")).current).toBe(OLD);

    const failed = await run("rollback", ["staging", NEW], "rollback");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("rollback FAILED at rollback");
  });
});
