import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { isTextModule } from "./scripts/local/text-modules.ts";

/** The files wrangler.toml's [[rules]] bundle as text are loaded as text here too (the in-process tests import the app). */
export default defineConfig({
  plugins: [
    {
      name: "text-modules",
      enforce: "pre",
      load: (id) => (isTextModule(id) ? `export default ${JSON.stringify(readFileSync(id, "utf8"))};` : undefined),
    },
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/build-worker.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
