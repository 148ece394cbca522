import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/** The files wrangler.toml's [[rules]] bundle as text, loaded as text here too (the in-process tests import the app). */
const TEXT_MODULES = /uPlot\.(iife\.min\.js|min\.css)$/;

export default defineConfig({
  plugins: [
    {
      name: "text-modules",
      enforce: "pre",
      load: (id) => (TEXT_MODULES.test(id) ? `export default ${JSON.stringify(readFileSync(id, "utf8"))};` : undefined),
    },
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/build-worker.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
