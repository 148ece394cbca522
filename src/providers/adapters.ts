/** Each provider's adapter, by the wire format it speaks. */
import type { Provider } from "../config/providers.ts";
import type { ProviderAdapter } from "./adapter.ts";
import { azureOpenAi } from "./azure-openai/index.ts";
import { bedrock } from "./bedrock/index.ts";
import { gemini } from "./gemini/index.ts";
import { openAiCompatible } from "./openai-compatible/index.ts";
import { vertex } from "./vertex/index.ts";

const ADAPTERS: Record<Provider["api"], ProviderAdapter> = {
  "openai-compatible": openAiCompatible,
  "azure-openai": azureOpenAi,
  bedrock,
  gemini,
  vertex,
};

export const adapterFor = (provider: Pick<Provider, "api">): ProviderAdapter => ADAPTERS[provider.api];
