// Server-Sent Events over fetch: EventSource cannot send an Authorization
// header, and Lode's streams need one. eventsource-parser does the framing.
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** Read an SSE response body, calling `onEvent` per event, until it ends. */
export async function readEvents(
  response: Response,
  onEvent: (event: EventSourceMessage) => void,
  signal?: AbortSignal,
): Promise<{ lastEventId?: string; retryMs?: number }> {
  const reader = response.body?.getReader();
  if (!reader) return {};
  const state: { lastEventId?: string; retryMs?: number } = {};
  const parser = createParser({
    onEvent(event) {
      if (event.id !== undefined) state.lastEventId = event.id;
      onEvent(event);
    },
    onRetry(ms) {
      state.retryMs = ms;
    },
  });
  const decoder = new TextDecoder();
  try {
    for (;;) {
      if (signal?.aborted) break;
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
  return state;
}
