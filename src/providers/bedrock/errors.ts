/**
 * What a Bedrock refusal means to the router. AWS names the error in the
 * `x-amzn-ErrorType` header (`ThrottlingException:http://internal.amazon.com/...`), and
 * sometimes as `__type` in the body; the status alone does not tell a credential AWS
 * refused (403) from a prompt too long (400) or a quota (400).
 */
import type { ProviderErrorKind } from "../adapter.ts";

/** The error's type: the header's, else the body's `__type`, without the namespace either may carry. */
export function errorType(body: string, headers?: Pick<Headers, "get">): string | undefined {
  let named = headers?.get("x-amzn-errortype") ?? undefined;
  if (named === undefined) {
    try {
      const parsed = JSON.parse(body) as { __type?: unknown };
      if (typeof parsed?.__type === "string") named = parsed.__type;
    } catch {
      // no body type
    }
  }
  // "ThrottlingException:http://…" (the header) and "com.amazon.coral.service#ThrottlingException" (a body) both name it.
  return named?.split(":")[0]?.split("#").pop() || undefined;
}

/** A Bedrock ValidationException that says the prompt does not fit the model. */
const TOO_LONG = /too long|too many (input )?tokens|exceeds? the (maximum|max) (context|input)|context (length|window)/i;

/** Bedrock's words for a model id it does not serve: the router's configuration, never the client's request. */
const MODEL_ID = /model identifier is invalid|model id .* (is not|isn't) supported/i;

/**
 * Bedrock's errors, by type where AWS names it, else by status:
 * ThrottlingException and ServiceQuotaExceededException are rate limits; ServiceUnavailable
 * and ModelNotReady (the model is being loaded) an overloaded provider; AccessDenied,
 * UnrecognizedClient, InvalidSignature, IncompleteSignature and ExpiredToken a refused
 * credential; a ValidationException that says the input is too long the client's
 * too-long prompt; any other ValidationException the client's 400, passed back. The rest
 * (InternalServerException 500, ModelTimeoutException 408, ModelErrorException 424) go by status.
 */
export function bedrockErrorKind(status: number, body: string, headers?: Pick<Headers, "get">): ProviderErrorKind | undefined {
  const type = errorType(body, headers);
  switch (type) {
    case "ThrottlingException":
    case "ServiceQuotaExceededException":
      return "rate_limited";
    case "ServiceUnavailableException":
    case "ModelNotReadyException":
      return "overloaded";
    case "AccessDeniedException":
    case "UnrecognizedClientException":
    case "InvalidSignatureException":
    case "IncompleteSignatureException":
    case "ExpiredTokenException":
    case "MissingAuthenticationTokenException":
    // The account may not use the model (its use case not submitted, no access granted): the router's model, not the client's.
    case "ResourceNotFoundException":
      return "auth_failed";
    case "ValidationException":
      return TOO_LONG.test(body) ? "context_too_long" : MODEL_ID.test(body) ? "auth_failed" : undefined;
    case undefined:
      break;
    default:
      return undefined;
  }
  if (status === 401 || status === 403) return "auth_failed";
  if (status === 503) return "overloaded";
  if (status === 400 && TOO_LONG.test(body)) return "context_too_long";
  return undefined;
}
