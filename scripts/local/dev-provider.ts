/**
 * Whether `npm run dev` answers with the fake provider: when asked (`--fake-upstream`),
 * or when the settings configure no provider at all (no OpenRouter, Groq, Gemini or AWS key,
 * no Vertex service account, no custom provider), so a first run with no account answers completions instead of a
 * 503. Setting any provider in `.dev.vars` turns it off; `--no-fake-upstream` too.
 */
const PROVIDER_SETTINGS = [
  "OPENROUTER_API_KEY",
  "GROQ_API_KEY",
  "ANTHROPIC_API_KEY",
  "GEMINI_API_KEY",
  "VERTEX_SERVICE_ACCOUNT_JSON",
  "AWS_ACCESS_KEY_ID",
  "AZURE_OPENAI_API_KEY",
  "CUSTOM_PROVIDERS",
];

export type FakeProviderReason = "asked for" | "no provider is configured" | undefined;

export function fakeProviderReason(argv: readonly string[], settings: Readonly<Record<string, string | undefined>>): FakeProviderReason {
  if (argv.includes("--fake-upstream")) return "asked for";
  if (argv.includes("--no-fake-upstream")) return undefined;
  return PROVIDER_SETTINGS.some((name) => (settings[name] ?? "").trim() !== "") ? undefined : "no provider is configured";
}
