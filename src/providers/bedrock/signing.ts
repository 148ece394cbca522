/**
 * SigV4 for Bedrock by aws4fetch's signer: the signed URL, headers and body are handed back
 * to the router's own call (its timeout, its retries), never sent by aws4fetch's `fetch`.
 */
import { AwsV4Signer } from "aws4fetch";
import type { AwsCredential } from "../../config/providers.ts";

/** The service a Bedrock runtime or control-plane call is signed for (the hosts differ; the signing name does not). */
const SERVICE = "bedrock";

export type SignedCall = { url: string; headers: Record<string, string>; body: string };

/**
 * Signs a call to `url` (whose path is already URL-encoded) with the credential, for its
 * region: `authorization`, `x-amz-date`, and `x-amz-security-token` for a temporary key.
 * @throws Error when the provider has no credential (it is then not configured, and never called).
 */
export async function signedCall(
  credential: AwsCredential | undefined,
  call: { method: "GET" | "POST"; url: string; headers: Record<string, string>; body: string },
): Promise<SignedCall> {
  if (credential === undefined) throw new Error("Bedrock is called without an AWS credential: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  const signer = new AwsV4Signer({
    method: call.method,
    url: call.url,
    headers: call.headers,
    ...(call.method === "POST" ? { body: call.body } : {}),
    accessKeyId: credential.accessKeyId,
    secretAccessKey: credential.secretAccessKey,
    ...(credential.sessionToken === undefined ? {} : { sessionToken: credential.sessionToken }),
    service: SERVICE,
    region: credential.region,
  });
  const signed = await signer.sign();
  return { url: signed.url.toString(), headers: Object.fromEntries(signed.headers), body: call.body };
}
