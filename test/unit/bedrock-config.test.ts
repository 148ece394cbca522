/** Bedrock's settings: configured by both halves of an AWS key, its region checked at start-up, its secrets redacted. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import { planOf } from "../../src/engine/plan.ts";
import { decide } from "../../src/routing/decide.ts";

const AWS = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE0000001", AWS_SECRET_ACCESS_KEY: "example-secret-key-0123456789abcdef" };

describe("Bedrock's settings", () => {
  it("make bedrock usable only with both halves of the key, signing for AWS_REGION at its regional host", () => {
    expect(parseConfig({ AWS_ACCESS_KEY_ID: AWS.AWS_ACCESS_KEY_ID }).providers.get("bedrock")).toMatchObject({ configured: false, api: "bedrock" });
    const bedrock = parseConfig({ ...AWS, AWS_REGION: "eu-central-1", AWS_SESSION_TOKEN: "session-token-0123456789" }).providers.get("bedrock");
    expect(bedrock).toMatchObject({
      configured: true,
      baseUrl: "https://bedrock-runtime.eu-central-1.amazonaws.com",
      aws: { accessKeyId: AWS.AWS_ACCESS_KEY_ID, secretAccessKey: AWS.AWS_SECRET_ACCESS_KEY, sessionToken: "session-token-0123456789", region: "eu-central-1" },
    });
    expect(parseConfig({ ...AWS, BEDROCK_BASE_URL: "http://127.0.0.1:9999" }).providers.get("bedrock")?.baseUrl).toBe("http://127.0.0.1:9999");
  });

  it("stop the router on a region that is not one, naming the variable", () => {
    for (const region of ["us-east", "mars-north-1", "US-EAST-1", "us-east-1; rm"])
      expect(() => parseConfig({ ...AWS, AWS_REGION: region }), region).toThrow(/AWS_REGION/);
    for (const region of ["us-east-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"])
      expect(parseConfig({ ...AWS, AWS_REGION: region }).providers.get("bedrock")?.aws?.region).toBe(region);
  });

  it("count the key's parts among the secrets kept out of every message", () => {
    const { secrets } = parseConfig({ ...AWS, AWS_SESSION_TOKEN: "session-token-0123456789" });
    expect(secrets).toEqual(expect.arrayContaining([AWS.AWS_ACCESS_KEY_ID, AWS.AWS_SECRET_ACCESS_KEY, "session-token-0123456789"]));
  });

  it("leave routing as it was when only OpenRouter is configured: no Bedrock model is picked", () => {
    const config = parseConfig({ OPENROUTER_API_KEY: "sk-or-x" });
    for (const tier of [3, 4, 5]) {
      const decision = decide({ model: `tier:${tier}`, messages: [{ role: "user", content: "Plan a migration" }] }, config);
      expect(decision.model.provider).toBe("openrouter");
      // Unconfigured models may stand in the decision's list; the plan the call runs is the configured ones.
      expect(planOf(decision, config).map((model) => model.provider)).toEqual(planOf(decision, config).map(() => "openrouter"));
      expect(planOf(decision, config).length).toBeGreaterThan(0);
    }
  });
});
