// The library: upload many files at once (drop or pick) and watch each one
// through extract → chunk → embed → index; add by URL; browse with title
// search, metadata filters and pages.
import { useEffect, useRef, useState } from "preact/hooks";
import { describe } from "../api/client";
import { follow, stepText } from "../api/follow";
import { documents, jobs } from "../api/lode";
import type { Document, JobStatus } from "../api/types";
import { can, session } from "../session";
import { useStore } from "../store";
import { ErrorText, Loaded, PageTitle, ProgressBar, Table, When, parseFilters, useLoad } from "../ui/bits";

interface Tracked {
  jobId: string;
  filename: string;
  status: JobStatus;
  step: string | null;
  progress: number;
  message: string | null;
  documentId?: string | null;
  /** 1, and one more for each retry asked for here. */
  tries: number;
}

export function Documents() {
  const s = useStore(session);
  const [tracked, setTracked] = useState<Tracked[]>([]);
  const [reloadList, setReloadList] = useState(0);
  const writable = can(s, "documents:write");

  function track(list: { job_id: string; filename: string | null }[]) {
    setTracked((t) => [
      ...list.map((j) => ({
        jobId: j.job_id,
        filename: j.filename ?? j.job_id,
        status: "queued" as JobStatus,
        step: null,
        progress: 0,
        message: null,
        tries: 1,
      })),
      ...t,
    ]);
  }

  const update = (jobId: string, patch: Partial<Tracked>) =>
    setTracked((t) => t.map((x) => (x.jobId === jobId ? { ...x, ...patch } : x)));

  return (
    <section>
      <PageTitle>Documents</PageTitle>
      {writable && <Upload onQueued={track} />}
      {tracked.length > 0 && (
        <section aria-labelledby="uploads-title" class="card">
          <div class="row between">
            <h2 id="uploads-title">Processing</h2>
            <button
              type="button"
              onClick={() => setTracked((t) => t.filter((x) => x.status !== "completed"))}
              disabled={!tracked.some((x) => x.status === "completed")}
            >
              Clear finished
            </button>
          </div>
          <ul class="uploads">
            {tracked.map((t) => (
              <UploadRow key={t.jobId} t={t} update={update} onDone={() => setReloadList((n) => n + 1)} writable={writable} />
            ))}
          </ul>
        </section>
      )}
      <Library reload={reloadList} />
    </section>
  );
}

function Upload({ onQueued }: { onQueued: (jobs: { job_id: string; filename: string | null }[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [url, setUrl] = useState("");

  async function send(files: File[]) {
    if (!files.length) return;
    setBusy(true);
    setError(null);
    try {
      const queued = await documents.upload(files);
      onQueued(queued.jobs);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      if (input.current) input.current.value = "";
    }
  }

  async function addUrl(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const queued = await documents.fromUrl(url.trim());
      onQueued(queued.jobs.map((j) => ({ ...j, filename: j.filename ?? url })));
      setUrl("");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section aria-labelledby="add-title" class="card">
      <h2 id="add-title">Add documents</h2>
      <div
        class={`drop ${over ? "over" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          void send(Array.from(e.dataTransfer?.files ?? []));
        }}
      >
        <p>Drop PDF, HTML, Markdown or text files here, up to 100 at once,</p>
        <label class="button primary">
          {busy ? "Uploading…" : "or choose files"}
          <input
            ref={input}
            type="file"
            multiple
            class="visually-hidden"
            accept=".pdf,.html,.htm,.md,.markdown,.txt,.text,application/pdf,text/html,text/markdown,text/plain"
            disabled={busy}
            onChange={(e) => void send(Array.from(e.currentTarget.files ?? []))}
          />
        </label>
      </div>
      <form class="row" onSubmit={addUrl}>
        <label class="grow">
          Add from a URL
          <input type="url" required placeholder="https://example.com/paper.pdf" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </label>
        <button type="submit">Add</button>
      </form>
      <ErrorText error={error} />
    </section>
  );
}

function UploadRow(props: {
  t: Tracked;
  update: (id: string, patch: Partial<Tracked>) => void;
  onDone: () => void;
  writable: boolean;
}) {
  const { t, update } = props;
  const [round, setRound] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    follow(
      t.jobId,
      (e) => update(t.jobId, { status: e.status, step: e.step, progress: e.progress, message: e.message }),
      ctl.signal,
    )
      .then(async (last) => {
        if (ctl.signal.aborted || !last) return;
        const job = await jobs.get(t.jobId);
        update(t.jobId, { documentId: job.document_id, message: job.error ?? last.message });
        if (last.status === "completed") props.onDone();
      })
      .catch((e) => {
        if (!ctl.signal.aborted) update(t.jobId, { message: describe(e) });
      });
    return () => ctl.abort();
  }, [t.jobId, round]);

  const failed = t.status === "failed" || t.status === "dead";
  const done = t.status === "completed";
  return (
    <li class={`upload ${t.status}`} data-job={t.jobId}>
      <div class="row between">
        <span class="name">
          {done && t.documentId ? <a href={`/app/documents/${t.documentId}`}>{t.filename}</a> : t.filename}
        </span>
        <span class="step">
          {stepText(t.status, t.step)} · {Math.round(done ? 100 : t.progress)} %{t.tries > 1 ? ` · try ${t.tries}` : ""}
        </span>
      </div>
      <ProgressBar value={done ? 100 : t.progress} label={`${t.filename}: ${stepText(t.status, t.step)}`} tone={failed ? "failed" : done ? "done" : undefined} />
      {t.message && (failed || t.status === "queued") && (
        <p class={failed ? "error" : "muted"} role={failed ? "alert" : undefined}>
          {failed ? "Why: " : "Will retry: "}
          {t.message}
        </p>
      )}
      {failed && props.writable && (
        <button
          type="button"
          onClick={async () => {
            try {
              await jobs.retry(t.jobId);
              update(t.jobId, { status: "queued", message: null, progress: 0, step: null, tries: t.tries + 1 });
              setRound((r) => r + 1);
            } catch (e) {
              update(t.jobId, { message: describe(e) });
            }
          }}
        >
          Retry {t.filename}
        </button>
      )}
    </li>
  );
}

function Library({ reload }: { reload: number }) {
  const [title, setTitle] = useState("");
  const [debounced, setDebounced] = useState("");
  const [filter, setFilter] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => {
    const t = setTimeout(() => {
      setDebounced(title.trim());
      setCursors([]);
    }, 250);
    return () => clearTimeout(t);
  }, [title]);
  const metadata = parseFilters(filter);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    () => documents.list({ limit: 20, cursor, title: debounced, metadata: metadata.pairs }),
    [debounced, filter, cursor, reload],
  );
  return (
    <section aria-labelledby="library-title" class="card">
      <h2 id="library-title">Library</h2>
      <div class="row wrap">
        <label class="grow">
          Find by title
          <input type="search" value={title} onInput={(e) => setTitle(e.currentTarget.value)} placeholder="Type part of a title" />
        </label>
        <label class="grow">
          Metadata filters
          <input
            type="text"
            value={filter}
            onChange={(e) => {
              setFilter(e.currentTarget.value);
              setCursors([]);
            }}
            placeholder="author=ann, year=2024"
            aria-describedby="filter-help"
          />
          <small id="filter-help" class="muted">
            key=value pairs, separated by commas; all must match.
          </small>
        </label>
      </div>
      {metadata.error && <p class="error">{metadata.error}</p>}
      <Loaded
        state={page}
        what="documents"
        empty={(p) => p.data.length === 0 && (debounced || filter ? "No document matches." : "No documents yet. Add some above.")}
      >
        {(p) => (
          <>
            <DocTable docs={p.data} />
            <div class="row between">
              <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous page
              </button>
              <button
                type="button"
                disabled={!p.next_cursor}
                onClick={() => p.next_cursor && setCursors((c) => [...c, p.next_cursor!])}
              >
                Next page
              </button>
            </div>
          </>
        )}
      </Loaded>
    </section>
  );
}

function DocTable({ docs }: { docs: Document[] }) {
  return (
    <Table head={["Title", "Type", "Version", "Size", "Updated"]}>
      {docs.map((d) => (
        <tr key={d.id}>
          <td>
            <a href={`/app/documents/${d.id}`}>{d.title}</a>
          </td>
          <td>{String(d.metadata.media_type ?? d.content_type)}</td>
          <td>{d.version}</td>
          <td>{size(d.size_bytes)}</td>
          <td>
            <When at={d.updated_at} />
          </td>
        </tr>
      ))}
    </Table>
  );
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
