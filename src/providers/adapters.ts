/** Each provider's adapter, by the wire format it speaks. */
import type { Provider } from "../config/providers.ts";
import type { ProviderAdapter } from "./adapter.ts";
import { anthropic } from "./anthropic/index.ts";
import { openAiCompatible } from "./openai-compatible/index.ts";

const ADAPTERS: Record<Provider["api"], ProviderAdapter> = { "openai-compatible": openAiCompatible, anthropic };

export const adapterFor = (provider: Pick<Provider, "api">): ProviderAdapter => ADAPTERS[provider.api];
