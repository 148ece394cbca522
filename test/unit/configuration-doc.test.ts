import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOC_PATH, ENV_PATH, renderConfiguration, variablesOf } from "../../scripts/docs/configuration.ts";
import { EnvSchema } from "../../src/config/env.ts";

const source = readFileSync(ENV_PATH, "utf8");
const names = Object.keys(EnvSchema.shape);

describe("docs/configuration.md", () => {
  it("is what scripts/docs/configuration.ts makes of src/config/env.ts today", () => {
    expect(readFileSync(DOC_PATH, "utf8"), "stale: run node --experimental-strip-types --no-warnings scripts/docs/configuration.ts").toBe(
      renderConfiguration(source),
    );
  });

  it("has a section for every variable of EnvSchema", () => {
    const doc = readFileSync(DOC_PATH, "utf8");
    for (const name of names) expect(doc, name).toContain(`\n### ${name}\n`);
  });

  it("reads every variable of EnvSchema from the source, and each has its own comment", () => {
    const variables = variablesOf(source);
    expect(variables.map((v) => v.name)).toEqual(names);
    for (const v of variables) expect(v.description, `${v.name} needs a /** comment */ in EnvSchema`).not.toBe("");
  });

  it("takes each default from the schema itself", () => {
    const parsed = EnvSchema.parse({});
    for (const v of variablesOf(source)) {
      const actual = (parsed as Record<string, unknown>)[v.name];
      expect(v.defaultValue, v.name).toBe(actual === undefined ? undefined : String(actual));
    }
  });
});
