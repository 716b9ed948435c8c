// Following a job: its events stream answers the events so far and ends, so
// the app asks again (with Last-Event-ID, after the server's `retry:`)
// until the `end` event.
import { sleep } from "./client";
import { jobs } from "./lode";
import { readEvents } from "./sse";
import type { JobEvent } from "./types";

/** Call `onEvent` for each of the job's events until it ends or `signal` aborts. */
export async function follow(jobId: string, onEvent: (e: JobEvent) => void, signal: AbortSignal): Promise<JobEvent | null> {
  let lastId: string | undefined;
  let last: JobEvent | null = null;
  let ended = false;
  while (!ended && !signal.aborted) {
    const response = await jobs.events(jobId, lastId, signal);
    const { lastEventId, retryMs } = await readEvents(
      response,
      (message) => {
        const event = JSON.parse(message.data) as JobEvent;
        last = event;
        onEvent(event);
        if (message.event === "end") ended = true;
      },
      signal,
    );
    lastId = lastEventId ?? lastId;
    // An abort ends the wait and, at the loop's test, the following.
    if (!ended) await sleep(retryMs ?? 1000, signal).catch(() => undefined);
  }
  return last;
}

/** Words for a job's step. */
export function stepText(status: string, step: string | null): string {
  if (status === "completed") return "Done";
  if (status === "failed") return "Failed";
  if (status === "dead") return "Gave up after every attempt";
  if (status === "queued") return "Waiting in the queue";
  switch (step) {
    case "fetch":
      return "Fetching";
    case "extract":
      return "Extracting text";
    case "chunk":
      return "Chunking";
    case "embed":
      return "Embedding";
    case "index":
      return "Indexing";
    default:
      return "Starting";
  }
}
