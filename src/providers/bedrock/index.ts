/**
 * The Bedrock adapter: Claude (and any Converse model) through AWS's Converse API, each call
 * signed with SigV4. Bedrock's answers and its binary event stream are turned into OpenAI's
 * chat format here, so the OpenAI readers, the response cache and every surface read them as
 * they read any other provider's.
 */
import { ApiError } from "../../http/errors.ts";
import type { ProviderAdapter } from "../adapter.ts";
import { openAiCompatible } from "../openai-compatible/index.ts";
import { chatCompletion, errorText } from "./converse-answer.ts";
import { converseBody } from "./converse-request.ts";
import { bedrockErrorKind } from "./errors.ts";
import { converseChatStream } from "./event-stream.ts";
import { signedCall } from "./signing.ts";

/** The model id in the path, URL-encoded: inference profiles (`us.anthropic.claude-…-v1:0`) and ARNs carry `:` and `/`. */
const modelUrl = (baseUrl: string, upstreamModel: string, action: "converse" | "converse-stream"): string =>
  `${baseUrl.replace(/\/+$/, "")}/model/${encodeURIComponent(upstreamModel)}/${action}`;

/** The body as `body()` made it, with the model id it carries for the path (Converse takes it in the path, not the body). */
type BedrockBody = { modelId: string; converse: Record<string, unknown> };

export const bedrock: ProviderAdapter = {
  body(request, upstreamModel): BedrockBody {
    return { modelId: upstreamModel, converse: converseBody(request, upstreamModel) };
  },

  completionRequest(provider, body, stream) {
    const { modelId, converse } = body as BedrockBody;
    return signedCall(provider.aws, {
      method: "POST",
      url: modelUrl(provider.baseUrl, modelId, stream ? "converse-stream" : "converse"),
      headers: { "content-type": "application/json", accept: stream ? "application/vnd.amazon.eventstream" : "application/json" },
      body: JSON.stringify(converse),
    });
  },

  /**
   * Both kinds are a one-token Converse call on the model given (the provider's cheapest):
   * listing models (`GET /foundation-models`) is on another host (`bedrock.`, the control
   * plane), needs another permission (`bedrock:ListFoundationModels`) that an inference-only
   * key may well lack, and proves neither that the runtime answers nor that the key may call
   * the model. A probe a minute on Haiku (about ten tokens in, one out) is under a dollar a month.
   */
  async probeRequest(provider, _kind, model) {
    const converse = { messages: [{ role: "user", content: [{ text: "ping" }] }], inferenceConfig: { maxTokens: 1 } };
    const call = await signedCall(provider.aws, {
      method: "POST",
      url: modelUrl(provider.baseUrl, model, "converse"),
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(converse),
    });
    return { url: call.url, init: { method: "POST", headers: call.headers, body: call.body } };
  },

  chatAnswer: chatCompletion,
  chatStream: converseChatStream,
  errorKind: bedrockErrorKind,
  errorMessage: errorText,

  // The answer is OpenAI's chat format by now (chatAnswer, chatStream): OpenAI's readers read it, the writes' split
  // by lifetime included (`cache_write_1h_tokens`, which chatUsage adds and readUsage reads).
  readCompletion: openAiCompatible.readCompletion,
  firstEvent: openAiCompatible.firstEvent,
  readEvent: openAiCompatible.readEvent,

  embeddingsRequest() {
    throw new ApiError(400, "Bedrock serves no embedding model here", { code: "invalid_value", param: "model" });
  },
  readEmbeddings: () => ({ failure: "error" }),
};
