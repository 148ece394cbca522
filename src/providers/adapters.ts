/** Each provider's adapter, by the wire format it speaks. */
import type { NativeRequest } from "../canonical/native.ts";
import type { Provider } from "../config/providers.ts";
import type { ProviderAdapter } from "./adapter.ts";
import { anthropic } from "./anthropic/index.ts";
import { azureOpenAi } from "./azure-openai/index.ts";
import { bedrock } from "./bedrock/index.ts";
import { gemini } from "./gemini/index.ts";
import { openAiCompatible } from "./openai-compatible/index.ts";
import { vertex } from "./vertex/index.ts";
import { vertexAnthropic } from "./vertex-anthropic/index.ts";

const ADAPTERS: Record<Provider["api"], ProviderAdapter> = {
  "openai-compatible": openAiCompatible,
  anthropic,
  "azure-openai": azureOpenAi,
  bedrock,
  gemini,
  vertex,
  "vertex-anthropic": vertexAnthropic,
};

export const adapterFor = (provider: Pick<Provider, "api">): ProviderAdapter => ADAPTERS[provider.api];

/** Whether a request kept in its surface's format goes to this provider as it is (its adapter speaks that format). */
export const passesThrough = (provider: Pick<Provider, "api"> | undefined, native: NativeRequest | undefined): boolean =>
  provider !== undefined && native !== undefined && adapterFor(provider).passThrough?.format === native.format;
