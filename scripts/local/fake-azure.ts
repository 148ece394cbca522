/**
 * The fake provider's Azure OpenAI face: `/openai/deployments/{name}/...?api-version=...`
 * and `/openai/v1/...`, keyed by the `api-key` header, answering as Azure does (its 401
 * body, its content filter's 400). A request that passes is handed back to the
 * OpenAI-compatible fake with its model named, since Azure's answers are OpenAI's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What the Azure face needs of the fake's behaviour. */
export type AzureBehaviour = {
  /** The key `api-key` must carry (any non-empty key when unset; none at all is always a 401). */
  requiredKey: string | undefined;
  /** Keys refused with a 401 (a customer's revoked key), whatever else is set. */
  refusedKeys?: string[] | undefined;
  /** Prompts Azure's content filter refuses (400, `code: "content_filter"`). */
  filterPrompts?: string[] | undefined;
};

/** Where an Azure call went, as a test checks it. */
export type AzureCall = { deployment: string | undefined; apiVersion: string | null; v1: boolean };

/**
 * Checks an `/openai/...` request the way Azure does. Answers it (and returns undefined)
 * when Azure would refuse it; otherwise returns the path the OpenAI fake serves, the body
 * with its model named (the deployment's name on a deployment call), and what it saw.
 */
export function azureRequest(
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, unknown>,
  behaviour: AzureBehaviour,
): { path: string; body: Record<string, unknown>; call: AzureCall } | undefined {
  const url = new URL(req.url ?? "/", "http://fake");
  const key = req.headers["api-key"];
  if (typeof key !== "string" || key === "" || (behaviour.requiredKey !== undefined && key !== behaviour.requiredKey) || behaviour.refusedKeys?.includes(key)) {
    // Azure's own words; a careless proxy in front of it might echo the key, which the router must not pass on.
    return void send(res, 401, {
      error: {
        code: "401",
        message: `Access denied due to invalid subscription key or wrong API endpoint (key ${String(key)}). Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.`,
      },
    });
  }
  const deployment = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
  const v1 = /^\/openai\/v1\/(chat\/completions|embeddings|models)$/.exec(url.pathname);
  const apiVersion = url.searchParams.get("api-version");
  const call: AzureCall = { deployment: deployment?.[1], apiVersion, v1: v1 !== null };
  if (deployment !== null && apiVersion === null) {
    return void send(res, 404, { error: { code: "404", message: "Resource not found" } });
  }
  if (deployment === null && v1 === null && !(url.pathname === "/openai/models" && apiVersion !== null)) {
    return void send(res, 404, { error: { code: "404", message: "Resource not found" } });
  }
  const text = JSON.stringify(body.messages ?? "");
  if (behaviour.filterPrompts?.some((filtered) => text.includes(filtered))) {
    return void send(res, 400, {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        type: null,
        param: "prompt",
        code: "content_filter",
        status: 400,
        innererror: {
          code: "ResponsibleAIPolicyViolation",
          content_filter_result: {
            hate: { filtered: false, severity: "safe" },
            jailbreak: { filtered: false, detected: false },
            self_harm: { filtered: false, severity: "safe" },
            sexual: { filtered: false, severity: "safe" },
            violence: { filtered: true, severity: "medium" },
          },
        },
      },
    });
  }
  const operation = deployment?.[2] ?? (v1?.[1] === undefined ? "models" : v1[1]);
  const model = deployment?.[1] ?? body.model;
  return { path: `/v1/${operation}`, body: model === undefined ? body : { ...body, model }, call };
}

const SAFE = {
  hate: { filtered: false, severity: "safe" },
  self_harm: { filtered: false, severity: "safe" },
  sexual: { filtered: false, severity: "safe" },
  violence: { filtered: false, severity: "safe" },
};

/** What Azure adds to a JSON answer: the prompt's filter results, and each choice's. */
export function azureAnswerFilters(choices: object[]): { prompt_filter_results: object[]; choices: object[] } {
  return {
    prompt_filter_results: [{ prompt_index: 0, content_filter_results: { ...SAFE, jailbreak: { filtered: false, detected: false } } }],
    choices: choices.map((choice) => ({ ...choice, content_filter_results: SAFE })),
  };
}

/** The chunk Azure's streams open with: no choices, the prompt's filter results, empty id and model. */
export function azurePromptFilterChunk(): object {
  return { choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: azureAnswerFilters([]).prompt_filter_results };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "apim-request-id": crypto.randomUUID() });
  res.end(JSON.stringify(body));
}
