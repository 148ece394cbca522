/** Walks the text and images of a conversation, whatever shape each message's content has. */
import type { Message } from "../canonical/request.ts";

/** Calls `onText` for every piece of text in the messages and `onImage` for every image. */
export function forEachText(messages: readonly Message[], onText: (text: string) => void, onImage: () => void = () => {}): void {
  for (const message of messages) {
    const content = message.content;
    if (typeof content === "string") onText(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === "text") onText(part.text);
        else if (part.type === "image_url") onImage();
      }
    }
    if (message.role === "assistant" && message.tool_calls) {
      for (const call of message.tool_calls) onText(call.function.arguments);
    }
  }
}

/** The text of the question a request asks: its last user message (the last text part of one made of parts). */
export function lastUserText(messages: readonly Message[]): string | undefined {
  for (let m = messages.length - 1; m >= 0; m--) {
    const message = messages[m]!;
    if (message.role !== "user") continue;
    const content = message.content;
    if (typeof content === "string") return content;
    if (!Array.isArray(content)) return undefined;
    for (let p = content.length - 1; p >= 0; p--) {
      const part = content[p]!;
      if (part.type === "text") return part.text;
    }
    return undefined;
  }
  return undefined;
}
