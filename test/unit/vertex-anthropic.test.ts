/**
 * Claude on Vertex AI (providers/vertex-anthropic/): the provider built from the Vertex settings,
 * the rawPredict and streamRawPredict URLs, the body (Anthropic's, without `model`, with Vertex's
 * `anthropic_version`), the answers read by Anthropic's readers, and the errors of both shapes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeServiceAccount, TOKEN_PATH } from "../../scripts/local/fake-google-token.ts";
import { type FakeUpstream, startFakeUpstream } from "../../scripts/local/fake-upstream.ts";
import type { NativeRequest } from "../../src/canonical/native.ts";
import type { CanonicalRequest } from "../../src/canonical/request.ts";
import { parseConfig } from "../../src/config/env.ts";
import type { Provider } from "../../src/config/providers.ts";
import { adapterFor, passesThrough } from "../../src/providers/adapters.ts";
import { anthropic } from "../../src/providers/anthropic/index.ts";
import { VERTEX_ANTHROPIC_VERSION, vertexAnthropic } from "../../src/providers/vertex-anthropic/index.ts";
import { credentialSchemaFor } from "../../src/security/provider-credentials.ts";
import { sentBody, sentJson } from "../support/sent-json.ts";

const ask = (fields: Partial<CanonicalRequest> = {}): CanonicalRequest =>
  ({ model: "auto", messages: [{ role: "user", content: "hi" }], max_tokens: 100, ...fields }) as CanonicalRequest;

/** A Messages body as Claude Code sends one: thinking with its signature, a breakpoint on a tool's result. */
const NATIVE_BODY = {
  model: "claude-sonnet-5",
  max_tokens: 2_000,
  thinking: { type: "enabled", budget_tokens: 1_024 },
  tools: [{ name: "read", description: "Reads a file", input_schema: { type: "object", properties: { path: { type: "string" } } } }],
  messages: [
    { role: "user", content: "Read a.txt" },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "I should read it.", signature: "EqQBCkYIBRgCKkD-sig" },
        { type: "tool_use", id: "toolu_1", name: "read", input: { path: "a.txt" } },
      ],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "hello", cache_control: { type: "ephemeral" } }] },
  ],
};
const native: NativeRequest = { format: "anthropic-messages", body: NATIVE_BODY, beta: "interleaved-thinking-2025-05-14" };

let fake: FakeUpstream;
let provider: Provider;
let origin: string;
beforeAll(async () => {
  fake = await startFakeUpstream();
  origin = fake.url.replace(/\/v1$/, "");
  const config = parseConfig({ VERTEX_SERVICE_ACCOUNT_JSON: fakeServiceAccount(fake.url, "proj-claude"), VERTEX_REGION: "us-east5", VERTEX_BASE_URL: origin });
  provider = config.providers.get("vertex-anthropic")!;
});
afterAll(() => fake.close());

describe("the vertex-anthropic provider", () => {
  it("is built from the Vertex settings, configured with them, and speaks Anthropic's Messages format", () => {
    expect(provider).toMatchObject({ id: "vertex-anthropic", api: "vertex-anthropic", configured: true, baseUrl: origin, apiKey: undefined });
    expect(provider.vertex).toMatchObject({ project: "proj-claude", region: "us-east5" });
    expect(parseConfig({ VERTEX_REGION: "us-east5" }).providers.get("vertex-anthropic")).toMatchObject({
      configured: false,
      configureWith: "VERTEX_SERVICE_ACCOUNT_JSON",
      baseUrl: "https://us-east5-aiplatform.googleapis.com",
    });
    expect(adapterFor(provider)).toBe(vertexAnthropic);
    expect(passesThrough(provider, native)).toBe(true);
    // A tenant's own GCP credential is taken for it as for `vertex`.
    expect(credentialSchemaFor("vertex-anthropic")).toBe(credentialSchemaFor("vertex"));
  });
});

describe("the call", () => {
  it("goes to the model's rawPredict, or streamRawPredict for a stream, with the bearer token and no Anthropic key or version header", async () => {
    const plain = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    expect(plain.url).toBe(`${origin}/v1/projects/proj-claude/locations/us-east5/publishers/anthropic/models/claude-sonnet-5:rawPredict`);
    expect(plain.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
    expect(plain.headers).not.toHaveProperty("x-api-key");
    expect(plain.headers).not.toHaveProperty("anthropic-version");
    const streamed = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-haiku-4-5@20251001", { stream: true }), true);
    expect(streamed.url).toBe(`${origin}/v1/projects/proj-claude/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5%4020251001:streamRawPredict`);
    expect(streamed.headers.accept).toBe("text/event-stream");
  });

  it("carries the Anthropic adapter's body without `model`, with Vertex's anthropic_version", async () => {
    const request = ask({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      temperature: 0.2,
    });
    const call = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(request, "claude-sonnet-5", { stream: true }), true);
    const sent = sentJson(call);
    const { model, ...direct } = (anthropic.body(request, "claude-sonnet-5", { stream: true }) as { message: Record<string, unknown> }).message;
    expect(model).toBe("claude-sonnet-5");
    expect(sent).not.toHaveProperty("model");
    expect(sent).toEqual({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...direct });
    expect(sent).toMatchObject({ anthropic_version: "vertex-2023-10-16", stream: true, system: [{ type: "text", text: "Be brief." }], temperature: 0.2 });
  });

  it("passes a Messages request through as sent: thinking and its signature, the breakpoint, the beta header", async () => {
    const call = await vertexAnthropic.completionRequest(
      provider,
      vertexAnthropic.body(ask({ max_tokens: 4_000 }), "claude-sonnet-5", { stream: false, native }),
      false,
    );
    const { model: _model, ...asSent } = NATIVE_BODY;
    expect(sentJson(call)).toEqual({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...asSent });
    expect(call.headers["anthropic-beta"]).toBe("interleaved-thinking-2025-05-14");
  });

  it("is answered by the fake in Anthropic's format, which Anthropic's readers read", async () => {
    const post = async (stream: boolean) => {
      const call = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream }), stream);
      return fetch(call.url, { method: "POST", headers: call.headers, body: sentBody(call) });
    };
    const answer = await post(false);
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(JSON.parse(text)).toMatchObject({ type: "message", model: "claude-sonnet-5", stop_reason: "end_turn" });
    const chat = JSON.parse(vertexAnthropic.chatAnswer(text, "claude-sonnet-5")) as { choices: { message: { content: string } }[] };
    expect(chat.choices[0]!.message.content).toMatch(/^Fake token1/);
    expect(vertexAnthropic.readCompletion(vertexAnthropic.chatAnswer(text, "claude-sonnet-5"))).toMatchObject({ complete: true });
    const stream = await post(true);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    const events = [...(await stream.text()).matchAll(/^event: (\S+)$/gm)].map((match) => match[1]);
    expect(events[0]).toBe("message_start");
    expect(events.at(-1)).toBe("message_stop");
  });

  it("is refused by the fake, as Vertex refuses it, with a model in the body or Anthropic's own version", async () => {
    const call = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    const withModel = await fetch(call.url, {
      method: "POST",
      headers: call.headers,
      body: JSON.stringify({ ...sentJson(call), model: "claude-sonnet-5" }),
    });
    expect(withModel.status).toBe(400);
    expect(vertexAnthropic.errorMessage(await withModel.text())).toMatch(/^model: /);
    const direct = anthropic.completionRequest({ ...provider, apiKey: "sk-ant" }, anthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    const wrongVersion = await fetch(call.url, {
      method: "POST",
      headers: call.headers,
      body: JSON.stringify({ ...sentJson(await direct), model: undefined, anthropic_version: "2023-06-01" }),
    });
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("anthropic_version") },
    });
    const noToken = await fetch(call.url, { method: "POST", headers: { ...call.headers, authorization: "Bearer ya29.forged" }, body: sentBody(call) });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
  });
});

describe("the errors", () => {
  it("read Anthropic's, which Vertex passes on, and Google's, which Vertex answers itself", () => {
    const kind = (status: number, body: unknown) => vertexAnthropic.errorKind!(status, JSON.stringify(body));
    expect(kind(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })).toBe("overloaded");
    expect(kind(400, { type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 1200000 tokens > 1000000 maximum" } })).toBe(
      "context_too_long",
    );
    expect(kind(400, { type: "error", error: { type: "invalid_request_error", message: "messages: at least one message is required" } })).toBeUndefined();
    expect(
      kind(429, { error: { code: 429, message: "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests", status: "RESOURCE_EXHAUSTED" } }),
    ).toBe("rate_limited");
    expect(kind(403, { error: { code: 403, message: "Permission 'aiplatform.endpoints.predict' denied", status: "PERMISSION_DENIED" } })).toBe("auth_failed");
    expect(kind(503, [{ error: { code: 503, message: "The service is currently unavailable.", status: "UNAVAILABLE" } }])).toBe("overloaded");
    expect(vertexAnthropic.errorMessage(JSON.stringify({ type: "error", error: { type: "api_error", message: "Internal server error" } }))).toBe(
      "Internal server error",
    );
    expect(vertexAnthropic.errorMessage(JSON.stringify([{ error: { code: 403, message: "Permission denied", status: "PERMISSION_DENIED" } }]))).toBe(
      "Permission denied",
    );
    expect(vertexAnthropic.errorMessage("upstream connect error")).toBe("upstream connect error");
  });

  it("drop the token on a 401 (Vertex refused it), so the next call fetches another; a 403 keeps it", async () => {
    const exchanges = () => fake.seen.filter((seen) => seen.path === TOKEN_PATH).length;
    const first = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    const before = exchanges();
    expect(vertexAnthropic.errorKind!(403, '{"error":{"code":403,"status":"PERMISSION_DENIED"}}', undefined, provider)).toBe("auth_failed");
    const kept = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    expect(kept.headers.authorization).toBe(first.headers.authorization);
    expect(
      vertexAnthropic.errorKind!(
        401,
        '{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}',
        undefined,
        provider,
      ),
    ).toBe("auth_failed");
    const fresh = await vertexAnthropic.completionRequest(provider, vertexAnthropic.body(ask(), "claude-sonnet-5", { stream: false }), false);
    expect(fresh.headers.authorization).not.toBe(first.headers.authorization);
    expect(exchanges()).toBe(before + 1);
  });
});

describe("the probe", () => {
  it("reads the publisher model, or sends a one-token message, as Vertex takes it", async () => {
    const models = await vertexAnthropic.probeRequest(provider, "models", "claude-sonnet-5");
    expect(models.url).toBe(`${origin}/v1beta1/publishers/anthropic/models/claude-sonnet-5`);
    expect((await fetch(models.url, models.init)).status).toBe(200);
    const completion = await vertexAnthropic.probeRequest(provider, "completion", "claude-sonnet-5");
    expect(JSON.parse(String(completion.init.body))).toEqual({
      anthropic_version: VERTEX_ANTHROPIC_VERSION,
      max_tokens: 1,
      messages: [{ role: "user", content: "ping" }],
    });
    const answer = await fetch(completion.url, completion.init);
    expect(answer.status).toBe(200);
    expect(vertexAnthropic.passThrough!.readers().readCompletion(await answer.text())).toMatchObject({ complete: true });
  });
});
