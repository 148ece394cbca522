/** Runs the fake OpenAI-compatible provider from the command line, e.g. for benchmarks. */
import { parseArgs } from "node:util";
import { type FakeBehaviour, startFakeUpstream } from "./fake-upstream.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "latency-ms": { type: "string" },
    "first-token-ms": { type: "string" },
    "token-interval-ms": { type: "string" },
    "completion-tokens": { type: "string" },
    "prompt-tokens": { type: "string" },
    "error-status": { type: "string" },
    "break-after-chunks": { type: "string" },
    "stall-after-chunks": { type: "string" },
    "require-key": { type: "string" },
  },
});

const number = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));
const behaviour: Partial<FakeBehaviour> = Object.fromEntries(
  Object.entries({
    latencyMs: number(values["latency-ms"]),
    firstTokenMs: number(values["first-token-ms"]),
    tokenIntervalMs: number(values["token-interval-ms"]),
    completionTokens: number(values["completion-tokens"]),
    promptTokens: number(values["prompt-tokens"]),
    errorStatus: number(values["error-status"]),
    breakAfterChunks: number(values["break-after-chunks"]),
    stallAfterChunks: number(values["stall-after-chunks"]),
    requiredKey: values["require-key"],
  }).filter(([, value]) => value !== undefined),
);

const fake = await startFakeUpstream({ port: Number(values.port), ...behaviour });
console.log(fake.url);
const stop = (): void => void fake.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
