/** Operator scripts find every setting the local worker has, from the same sources (issue 23: audit:verify and a .dev.vars AUDIT_HMAC_KEY). */
import { describe, expect, it } from "vitest";
import { localSettings, parseDevVars } from "../../scripts/db.ts";

describe("the local worker's settings, as operator scripts read them", () => {
  it("reads .dev.vars as wrangler does: quotes dropped, an empty value unset", () => {
    expect(parseDevVars('AUDIT_HMAC_KEY="from-dev-vars-0123456789"\nGROQ_API_KEY=\n# a comment\nADMIN_API_KEY=plain-0123456789\n')).toEqual({
      AUDIT_HMAC_KEY: "from-dev-vars-0123456789",
      ADMIN_API_KEY: "plain-0123456789",
    });
  });

  it("takes single quotes as wrangler does: MODEL_ALIASES written as docs/responses.md shows it is JSON", () => {
    const vars = parseDevVars(`MODEL_ALIASES='{"gpt-5*":"auto"}'\nexport TG_NAME=\`ticks\`\nPLAIN=value # a note\n`);
    expect(vars).toEqual({ MODEL_ALIASES: '{"gpt-5*":"auto"}', TG_NAME: "ticks", PLAIN: "value" });
    expect(JSON.parse(vars.MODEL_ALIASES!)).toEqual({ "gpt-5*": "auto" });
  });

  it("takes .dev.vars over the secrets the stack made, and the stack's endpoints over both", () => {
    const settings = localSettings({
      made: { ADMIN_API_KEY: "made-admin", AUDIT_HMAC_KEY: "made-hmac" },
      devVars: { AUDIT_HMAC_KEY: "from-dev-vars", DATABASE_URL: "postgres://stale" },
      stack: { DATABASE_URL: "postgres://postgres@127.0.0.1:5490/postgres" },
    });
    expect(settings).toEqual({ ADMIN_API_KEY: "made-admin", AUDIT_HMAC_KEY: "from-dev-vars", DATABASE_URL: "postgres://postgres@127.0.0.1:5490/postgres" });
  });
});
