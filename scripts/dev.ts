/**
 * `npm run dev`: serves the router locally with wrangler on 127.0.0.1:$PORT (8787).
 * `npm run dev -- --fake-upstream` also starts the fake provider and points
 * OpenRouter and Groq at it, so completions work with no account at all.
 */
import { spawn } from "node:child_process";
import { startFakeUpstream } from "./local/fake-upstream.ts";

const port = process.env.PORT ?? "8787";
const args = ["dev", "--ip", "127.0.0.1", "--port", port, "--show-interactive-dev-session=false"];
const fake = process.argv.includes("--fake-upstream") ? await startFakeUpstream({ tokenIntervalMs: 30 }) : undefined;
if (fake !== undefined) {
  for (const provider of ["OPENROUTER", "GROQ"]) {
    args.push("--var", `${provider}_BASE_URL:${fake.url}`, "--var", `${provider}_API_KEY:fake-local-key`);
  }
  console.log(`fake provider at ${fake.url} (OpenRouter and Groq point at it)`);
}

const wrangler = spawn("wrangler", args, {
  stdio: "inherit",
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});
const stop = (): void => {
  wrangler.kill("SIGTERM");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", (code) => {
  void fake?.close();
  process.exit(code ?? 0);
});
