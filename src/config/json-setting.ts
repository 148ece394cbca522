/** A setting whose value is JSON: parsed, then checked against its own schema. */
import * as z from "zod";

/** A variable holding JSON, checked against `schema`; bad JSON is an issue (`notJson`) like any other, not a crash. */
export function jsonSetting<T extends z.ZodType>(schema: T, notJson = "not valid JSON") {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: notJson });
        return z.NEVER;
      }
    })
    .pipe(schema);
}
