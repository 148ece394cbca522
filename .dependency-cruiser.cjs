/**
 * dependency-cruiser for `npm run lint` (issue 21): src/ and scripts/ may hold no import
 * cycle, type-only imports included, neither between files nor between folders. Cycles are
 * all it checks (no orphan or other rule), so lint fails on a cycle and nothing else.
 * `.cjs` because package.json says "type": "module" and depcruise loads it with require.
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle of imports, type-only ones too: move the shared part into a leaf module both can import.",
      from: {},
      to: { circular: true },
    },
    {
      // The same one level up: audit/ importing pipeline/ while pipeline/ imports
      // audit/ is a cycle of folders even where no file cycle closes.
      name: "no-circular-folders",
      severity: "error",
      comment: "Two folders that import each other, directly or through others: one of them should depend on the other only.",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // The graph is src/ and scripts/ (issue 36: scripts/eval/ and scripts/train/ had closed
    // a cycle): what they import from node_modules is a leaf, never followed.
    includeOnly: "^(src|scripts)/",
    doNotFollow: { path: "node_modules" },
    // Count `import type` and `import { type X }`, which TypeScript erases before a
    // JavaScript-level scan would see them: type imports make cycles too.
    tsPreCompilationDeps: true,
    // tsconfig.json's resolution (bundler, imports written with their `.ts` extension).
    tsConfig: { fileName: "tsconfig.json" },
  },
};
