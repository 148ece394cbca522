/**
 * The files wrangler.toml's Text `[[rules]]` bundle as text (uPlot's), read from
 * wrangler.toml itself, so Miniflare (worker.ts) and vitest load them as wrangler does.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const toml = readFileSync(fileURLToPath(new URL("../../wrangler.toml", import.meta.url)), "utf8");
const names = [...toml.matchAll(/\[\[rules\]\]\s*\ntype\s*=\s*"Text"\s*\nglobs\s*=\s*\[([^\]]*)\]/g)].flatMap((rule) =>
  [...rule[1]!.matchAll(/"\*\*\/([^"]+)"/g)].map((glob) => glob[1]!),
);

/** Whether a file (a path, or wrangler's hashed output name) is one of them. */
export const isTextModule = (path: string): boolean => names.some((name) => path.endsWith(name));
