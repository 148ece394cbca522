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

  it("takes .dev.vars over the secrets the stack made, and the stack's endpoints over both", () => {
    const settings = localSettings({
      made: { ADMIN_API_KEY: "made-admin", AUDIT_HMAC_KEY: "made-hmac" },
      devVars: { AUDIT_HMAC_KEY: "from-dev-vars", DATABASE_URL: "postgres://stale" },
      stack: { DATABASE_URL: "postgres://postgres@127.0.0.1:5490/postgres" },
    });
    expect(settings).toEqual({ ADMIN_API_KEY: "made-admin", AUDIT_HMAC_KEY: "from-dev-vars", DATABASE_URL: "postgres://postgres@127.0.0.1:5490/postgres" });
  });
});
