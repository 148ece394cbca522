/** What the upload weighs: every module wrangler's build wrote (the bundle and the text modules beside it), each gzipped. */
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

export function gzippedKib(outdir: string): number {
  const modules = readdirSync(outdir).filter((file) => !file.endsWith(".map") && file !== "README.md");
  const bytes = modules.reduce((sum, file) => sum + gzipSync(readFileSync(`${outdir}/${file}`), { level: 9 }).byteLength, 0);
  return Math.round((bytes / 1024) * 10) / 10;
}
