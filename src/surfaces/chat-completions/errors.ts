/** OpenAI's error body, `{error: {message, type, param, code}}`, which the official SDKs raise as their typed errors. */
import type { ApiError, ErrorType } from "../../http/errors.ts";

export type OpenAiErrorBody = {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
};

export function openAiErrorBody(error: ApiError): OpenAiErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}
