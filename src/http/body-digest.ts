/**
 * The SHA-256 of each request body, of its bytes as they arrived: taken as the body is read
 * (json-body.ts) and signed by the audit trail as the record's `request_hmac`. Taking it
 * from the bytes already read, rather than from the parsed request after the answer, costs
 * no second serialisation of an agent's 100k-token body, and keeps nothing of the body
 * alive while the answer streams. Keyed by the request, weakly: it goes with it.
 */
import { sha256HexOfBytes } from "../crypto/digest.ts";

const digests = new WeakMap<Request, Promise<string>>();

export function noteBodyDigest(request: Request, bytes: ArrayBufferView): void {
  digests.set(request, sha256HexOfBytes(bytes));
}

/** The digest of `request`'s body as hex, if its body was read as JSON. */
export const bodyDigestOf = (request: Request): Promise<string> | undefined => digests.get(request);
