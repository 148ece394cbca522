/** Settings of what one request may ask for, and of the output its cost estimate assumes. */
import * as z from "zod";

export const RequestLimitSettings = z.object({
  /** The most a Messages request's `max_tokens` is taken as (Claude Code asks 128,000 on every turn): a ceiling. */
  MESSAGES_MAX_TOKENS: z.coerce.number().int().positive().default(32_000),
  /** Largest request body accepted (4 MiB by default); a larger one gets 413. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Output tokens assumed for a cost estimate when the request sets no max_tokens. */
  ESTIMATED_OUTPUT_TOKENS: z.coerce.number().int().positive().default(512),
  /** The most choices (`n`) one request may ask for. */
  MAX_CHOICES: z.coerce.number().int().min(1).max(128).default(8),
  /** The most output tokens (`max_tokens`, `max_completion_tokens`) one request may ask for. */
  MAX_OUTPUT_TOKENS: z.coerce.number().int().positive().default(131_072),
});

export type RequestLimitConfig = {
  messagesMaxTokens: number;
  maxBodyBytes: number;
  estimatedOutputTokens: number;
  maxChoices: number;
  maxOutputTokens: number;
};

export function requestLimitConfig(env: z.infer<typeof RequestLimitSettings>): RequestLimitConfig {
  return {
    messagesMaxTokens: env.MESSAGES_MAX_TOKENS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    estimatedOutputTokens: env.ESTIMATED_OUTPUT_TOKENS,
    maxChoices: env.MAX_CHOICES,
    maxOutputTokens: env.MAX_OUTPUT_TOKENS,
  };
}
