/** A setting whose value is JSON: parsed, then checked against its own schema. */
import * as z from "zod";

/** A variable holding JSON, checked against `schema`; bad JSON is an issue like any other, not a crash. */
export function jsonSetting<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
}
