/**
 * Bedrock's ConverseStream answer (`application/vnd.amazon.eventstream`: binary frames, each
 * with its own CRC32s) as OpenAI chat-completion SSE, what the relay and every surface read.
 * Frames are cut from the byte stream by their length prelude, wherever the network split
 * them, and decoded by AWS's own codec, which checks both CRCs: a corrupted frame errors
 * the stream (the relay ends it as broken), never passes on as text.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { chatUsage, finishReason } from "./converse-answer.ts";
import { STRUCTURED_OUTPUT_TOOL } from "./converse-request.ts";

/** One decoded frame: its `:message-type`, its event or exception type, and its JSON payload. */
export type Frame = { messageType: string; type: string; payload: Record<string, unknown> };

/** Frame overhead: the 12-byte prelude (total length, headers length, prelude CRC) and the 4-byte message CRC. */
const FRAME_OVERHEAD = 16;
/** The largest frame read (AWS's event streams cap a message at 16 MiB, headers included): a longer prelude is a broken stream. */
const MAX_FRAME = 16 * 1024 * 1024 + 128 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const decoder = new TextDecoder();

/**
 * Cuts the byte stream into frames and decodes each; a frame split across chunks waits for
 * its rest. Errors on a bad length or CRC, and on bytes left over at the end.
 */
export function decodeFrames(body: ReadableStream<Uint8Array>): ReadableStream<Frame> {
  let buffered: Uint8Array = new Uint8Array(0);
  return body.pipeThrough(
    new TransformStream<Uint8Array, Frame>({
      transform(chunk, controller) {
        buffered = joined(buffered, chunk);
        while (buffered.byteLength >= 4) {
          const length = new DataView(buffered.buffer, buffered.byteOffset, 4).getUint32(0, false);
          if (length < FRAME_OVERHEAD || length > MAX_FRAME) throw new Error(`event stream frame of ${length} bytes: the stream is corrupt`);
          if (buffered.byteLength < length) break;
          controller.enqueue(frameOf(buffered.subarray(0, length)));
          buffered = buffered.subarray(length);
        }
      },
      flush() {
        if (buffered.byteLength > 0) throw new Error(`the event stream ended inside a frame (${buffered.byteLength} bytes left)`);
      },
    }),
  );
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** One whole frame, decoded with its CRCs checked (the codec throws on a mismatch). */
function frameOf(bytes: Uint8Array): Frame {
  // The codec reads the frame through its buffer's offset: give it its own copy.
  const { headers, body } = codec.decode(bytes.slice());
  const header = (name: string): string => {
    const value = headers[name]?.value;
    return typeof value === "string" ? value : "";
  };
  const messageType = header(":message-type") || "event";
  const type = messageType === "exception" ? header(":exception-type") : messageType === "error" ? header(":error-code") : header(":event-type");
  let payload: Record<string, unknown> = {};
  const text = decoder.decode(body);
  if (text !== "") {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null) payload = parsed as Record<string, unknown>;
    } catch {
      payload = { message: text };
    }
  }
  if (messageType === "error" && payload.message === undefined) payload.message = header(":error-message");
  return { messageType, type, payload };
}

/**
 * The frames as OpenAI chat-completion SSE: text, tool calls (their input arriving in
 * pieces) and reasoning as deltas, the finish reason at `messageStop`, the usage in a last
 * chunk of its own at `metadata`, then `[DONE]`. An exception becomes an error event and
 * ends the stream without `[DONE]`: the relay counts it as broken off (before the first
 * chunk, a failed start it may retry). The structured-output tool's input is the answer's text.
 */
export function converseChatStream(body: ReadableStream<Uint8Array>, upstreamModel: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const id = `chatcmpl-${crypto.randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  /** Converse's content block index → the tool call's index among the answer's calls, or "text" for the structured answer. */
  const toolBlocks = new Map<number, number | "text">();
  let calls = 0;
  let structured = false;
  let stopped = false;
  let failed = false;
  const data = (value: object): Uint8Array => encoder.encode(`data: ${JSON.stringify(value)}\n\n`);
  const chunk = (delta: object, finish: string | null = null): Uint8Array =>
    data({ id, object: "chat.completion.chunk", created, model: upstreamModel, choices: [{ index: 0, delta, finish_reason: finish }] });

  return decodeFrames(body).pipeThrough(
    new TransformStream<Frame, Uint8Array>({
      transform(frame, controller) {
        if (failed) return;
        const { payload } = frame;
        if (frame.messageType !== "event") {
          failed = true;
          controller.enqueue(data({ error: { message: String(payload.message ?? frame.type), type: "upstream_error", code: frame.type || "exception" } }));
          return;
        }
        const index = typeof payload.contentBlockIndex === "number" ? payload.contentBlockIndex : 0;
        switch (frame.type) {
          case "messageStart":
            controller.enqueue(chunk({ role: "assistant", content: "" }));
            break;
          case "contentBlockStart": {
            const toolUse = (payload.start as { toolUse?: { toolUseId?: unknown; name?: unknown } } | undefined)?.toolUse;
            if (toolUse === undefined) break;
            if (toolUse.name === STRUCTURED_OUTPUT_TOOL) {
              structured = true;
              toolBlocks.set(index, "text");
              break;
            }
            toolBlocks.set(index, calls);
            controller.enqueue(
              chunk({
                tool_calls: [{ index: calls, id: String(toolUse.toolUseId), type: "function", function: { name: String(toolUse.name), arguments: "" } }],
              }),
            );
            calls += 1;
            break;
          }
          case "contentBlockDelta": {
            const delta = (payload.delta ?? {}) as { text?: unknown; toolUse?: { input?: unknown }; reasoningContent?: { text?: unknown } };
            if (typeof delta.text === "string") controller.enqueue(chunk({ content: delta.text }));
            else if (typeof delta.toolUse?.input === "string") {
              const call = toolBlocks.get(index);
              if (call === "text") controller.enqueue(chunk({ content: delta.toolUse.input }));
              else if (call !== undefined) controller.enqueue(chunk({ tool_calls: [{ index: call, function: { arguments: delta.toolUse.input } }] }));
            } else if (typeof delta.reasoningContent?.text === "string") controller.enqueue(chunk({ reasoning: delta.reasoningContent.text }));
            break;
          }
          case "messageStop": {
            stopped = true;
            const finish = structured && calls === 0 && payload.stopReason === "tool_use" ? "stop" : finishReason(payload.stopReason);
            controller.enqueue(chunk({}, finish));
            break;
          }
          case "metadata": {
            const usage = chatUsage(payload.usage);
            if (usage !== undefined) controller.enqueue(data({ id, object: "chat.completion.chunk", created, model: upstreamModel, choices: [], usage }));
            break;
          }
          default:
            // contentBlockStop, and any event added later: nothing for the client.
            break;
        }
      },
      flush(controller) {
        if (stopped && !failed) controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      },
    }),
  );
}
