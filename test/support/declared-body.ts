/**
 * A POST that sends its headers, with the Content-Length of `body`, and none of the body:
 * how to ask a router that must refuse an oversized body from its headers alone.
 *
 * Sending the body instead races the transport, not the router: the worker answers 413
 * without reading it, and workerd then reads and throws away at most 64 KiB of what is
 * left (kj's HttpServer, `canceledUploadGraceBytes`) before it closes the connection.
 * A larger body is still arriving when it closes, so the kernel resets the connection,
 * and the client sees EPIPE, ECONNRESET or undici's "other side closed" (UND_ERR_SOCKET)
 * in place of the answer. With only the headers sent, nothing is in flight when the
 * answer comes, whatever the timing. A router that waits for the body instead of
 * refusing it never answers, and the request fails after `timeoutMs`.
 */
import { request as httpRequest } from "node:http";

export function postHeadersOnly(url: string, headers: Record<string, string>, body: string, timeoutMs = 10_000): Promise<Response> {
  const length = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    // A connection of its own (agent: false): the server closes it after answering.
    const request = httpRequest(url, { method: "POST", headers: { ...headers, "content-length": String(length) }, agent: false });
    request.setTimeout(timeoutMs, () =>
      request.destroy(new Error(`no answer in ${timeoutMs} ms to headers declaring ${length} bytes: the server waits for the body instead of refusing it`)),
    );
    request.on("error", reject);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const responseHeaders = Object.entries(response.headers).map(([name, value]) => [name, String(value)] as [string, string]);
        resolve(new Response(Buffer.concat(chunks), { status: response.statusCode, headers: responseHeaders }));
        request.destroy();
      });
    });
    request.flushHeaders();
  });
}
