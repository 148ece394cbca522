/**
 * Settings that point each native provider at the fake (fake-upstream.ts serves every wire
 * format on one port, each under its own paths), with the credential each half checks:
 * what `npm run dev` sets, and what the tests that call a native provider start from.
 */
import { FAKE_AWS } from "./fake-bedrock.ts";
import { fakeServiceAccount } from "./fake-google-token.ts";
import type { FakeUpstream } from "./fake-upstream.ts";

export type NativeProvider = "anthropic" | "azure" | "bedrock" | "gemini" | "vertex";

/**
 * The settings of each native provider named, pointed at `fake`, with `key` as the key of
 * those that take one; Vertex gets a service account made now, for `project`, which the fake's
 * token endpoint trusts.
 */
export function fakeNativeProviders(
  fake: Pick<FakeUpstream, "url" | "azureEndpoint">,
  providers: readonly NativeProvider[],
  { key = "fake-local-key", project = "tiergate-local" }: { key?: string; project?: string } = {},
): Record<string, string> {
  // The fake's origin: Anthropic's adapter appends /v1/messages, Bedrock's /model/…, Google's /v1beta/… and /v1/projects/….
  const origin = new URL(fake.url).origin;
  const settings: Record<NativeProvider, () => Record<string, string>> = {
    anthropic: () => ({ ANTHROPIC_BASE_URL: origin, ANTHROPIC_API_KEY: key }),
    azure: () => ({ AZURE_OPENAI_ENDPOINT: fake.azureEndpoint, AZURE_OPENAI_API_KEY: key }),
    bedrock: () => ({
      BEDROCK_BASE_URL: origin,
      AWS_ACCESS_KEY_ID: FAKE_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS.secretAccessKey,
      AWS_REGION: FAKE_AWS.region,
    }),
    gemini: () => ({ GEMINI_BASE_URL: origin, GEMINI_API_KEY: key }),
    vertex: () => ({ VERTEX_BASE_URL: origin, VERTEX_SERVICE_ACCOUNT_JSON: fakeServiceAccount(fake.url, project) }),
  };
  return Object.assign({}, ...providers.map((provider) => settings[provider]()));
}
