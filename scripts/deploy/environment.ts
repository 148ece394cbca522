/** One deploy environment: deploy/environments.json's entry, checked, with wrangler.toml's name for the worker. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const EnvironmentSchema = z.strictObject({
  /** Where the environment's worker answers: the smoke test and the error-rate checks call it. */
  url: z.url(),
  /** Percentages of traffic the new version takes, step by step, ending at 100. */
  steps: z
    .array(z.number().int().min(1).max(100))
    .min(1)
    .refine((steps) => steps.at(-1) === 100 && steps.every((s, i) => i === 0 || s > steps[i - 1]!), "must rise and end at 100"),
  step_wait_seconds: z.number().min(0),
  /** Roll back when the 5xx share during a step passes the share before the rollout by more than this. */
  max_error_rate_increase: z.number().min(0).max(1),
  /** Fewer requests than this in a step's window say nothing; the step is judged on the smoke test alone. */
  min_requests: z.number().int().min(1),
  /** The model the smoke completion asks for; null skips the completion. */
  smoke_model: z.string().nullable(),
  bundle_budget_kib: z.number().positive(),
});
export type Environment = z.infer<typeof EnvironmentSchema> & { name: string; worker: string };

/** The environment called `name`, or an error that lists the ones there are. */
export function loadEnvironment(name: string | undefined, root = ROOT): Environment {
  const all = JSON.parse(readFileSync(`${root}deploy/environments.json`, "utf8")) as Record<string, unknown>;
  const names = Object.keys(all).filter((key) => !key.startsWith("$"));
  if (name === undefined || !names.includes(name)) throw new Error(`name an environment: ${names.join(" or ")} (deploy/environments.json)`);
  const toml = readFileSync(`${root}wrangler.toml`, "utf8");
  const section = new RegExp(`^\\[env\\.${name}\\]\\s*\\nname\\s*=\\s*"([^"]+)"`, "m").exec(toml);
  if (section === null) throw new Error(`wrangler.toml has no [env.${name}] with a name`);
  return { ...EnvironmentSchema.parse(all[name]), name, worker: section[1]! };
}

/** Flags as `--name value` pairs after the positionals. */
export function flag(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}
