/**
 * wrangler.toml's \`[vars]\`, as \`npm run types\` (wrangler types) writes them to
 * wrangler-env.d.ts, are settings the env schema reads, with values it accepts: a var
 * the worker would never read, or a value it would refuse, fails \`npm run typecheck\`.
 * Nothing imports this file; the worker's typecheck reads it.
 */
import type * as z from "zod";
import type { EnvSchema } from "./env.ts";

type Settings = z.input<typeof EnvSchema>;
type UnreadVars = Exclude<keyof Env, keyof Settings>;

export const everyVarIsRead: [UnreadVars] extends [never] ? true : UnreadVars = true;
export const everyVarIsValid = (vars: Env): Pick<Settings, keyof Env & keyof Settings> => vars;
