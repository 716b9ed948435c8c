// Jobs, live: status, step, progress, attempts and errors of the tenant's
// recent jobs and their batches, refreshed while any is unfinished; dead
// letters with retry and redrive.
import { useEffect, useState } from "preact/hooks";
import { jobs } from "../api/lode";
import type { Job, JobStatus } from "../api/types";
import { stepText } from "../api/follow";
import { can, session } from "../session";
import { useStore } from "../store";
import { notices } from "../notices";
import { describe } from "../api/client";
import { Choice, Loaded, PageTitle, ProgressBar, Table, When, useLoad } from "../ui/bits";

const FINAL: JobStatus[] = ["completed", "failed", "dead"];

export function JobsPage() {
  const s = useStore(session);
  const writable = can(s, "documents:write");
  const [status, setStatus] = useState<JobStatus | "">("");
  const list = useLoad(() => jobs.list(status || undefined), [status]);
  const dead = useLoad(() => jobs.dead(), []);
  const unfinished = (list.data?.data ?? []).some((j) => !FINAL.includes(j.status));
  useEffect(() => {
    if (!unfinished) return;
    const t = setTimeout(list.reload, 2000);
    return () => clearTimeout(t);
  }, [list.data]);

  async function act(what: Promise<unknown>, done: string) {
    try {
      await what;
      notices.show(done, "info", 4000);
    } catch (e) {
      notices.show(describe(e), "error", 8000);
    }
    list.reload();
    dead.reload();
  }

  const retry = (j: Job) => act(jobs.retry(j.job_id), `${label(j)} is queued again.`);
  const batches = groupBatches(list.data?.data ?? []);
  return (
    <section>
      <PageTitle>Jobs</PageTitle>
      <section class="card" aria-labelledby="jobs-title">
        <div class="row between wrap">
          <h2 id="jobs-title">Recent jobs</h2>
          <Choice<JobStatus | "">
            label="Status"
            value={status}
            options={[["", "All"], ...(["queued", "processing", "completed", "failed", "dead"] as const).map((x) => [x, x] as const)]}
            onChange={setStatus}
          />
        </div>
        <Loaded state={list} what="jobs" empty={(l) => l.data.length === 0 && `No jobs${status ? ` that are ${status}` : ""}.`}>
          {(l) => <JobTable rows={l.data} writable={writable} onRetry={retry} />}
        </Loaded>
      </section>
      {batches.length > 0 && (
        <section class="card" aria-labelledby="batches-title">
          <h2 id="batches-title">Batches</h2>
          <Table head={["Batch", "Jobs", "Status", "Progress"]}>
            {batches.map((b) => (
              <tr key={b.id}>
                <td>
                  <code>{b.id}</code>
                </td>
                <td>{b.total}</td>
                <td>
                  {Object.entries(b.counts)
                    .map(([k, v]) => `${v} ${k}`)
                    .join(", ")}
                </td>
                <td>
                  <ProgressBar value={b.progress} label={`Batch ${b.id}`} />
                </td>
              </tr>
            ))}
          </Table>
        </section>
      )}
      <section class="card" aria-labelledby="dead-title">
        <div class="row between wrap">
          <h2 id="dead-title">Dead letters</h2>
          {writable && (
            <button
              type="button"
              disabled={!dead.data?.data.length}
              onClick={() => act(jobs.redrive(), "Every dead job is queued again.")}
            >
              Redrive all
            </button>
          )}
        </div>
        <Loaded
          state={dead}
          what="dead letters"
          empty={(d) => d.data.length === 0 && "No dead letters: every job either finished or is still trying."}
        >
          {(d) => <JobTable rows={d.data} writable={writable} onRetry={retry} />}
        </Loaded>
      </section>
    </section>
  );
}

function label(j: Job): string {
  return j.filename ?? j.tool ?? j.job_id;
}

function JobTable({ rows, writable, onRetry }: { rows: Job[]; writable: boolean; onRetry: (j: Job) => void }) {
  return (
    <Table class="jobs" head={["Job", "Status", "Progress", "Attempts", "Error", "Updated", ""]}>
      {rows.map((j) => (
        <tr key={j.job_id} class={j.status}>
          <td>
            {j.document_id ? <a href={`/app/documents/${j.document_id}`}>{label(j)}</a> : label(j)}
            <div class="muted small">{j.kind === "tool" ? `tool ${j.tool}` : "ingest"}</div>
          </td>
          <td>
            <span class={`status ${j.status}`}>{j.status}</span>
            <div class="muted small">{stepText(j.status, j.step)}</div>
          </td>
          <td>
            <ProgressBar value={j.status === "completed" ? 100 : j.progress} label={`${label(j)} progress`} />
          </td>
          <td>
            {j.attempts} / {j.max_attempts}
          </td>
          <td class="error-cell">{j.error ?? ""}</td>
          <td>
            <When at={j.updated_at} />
          </td>
          <td>
            {writable && (j.status === "failed" || j.status === "dead") && (
              <button type="button" onClick={() => onRetry(j)} aria-label={`Retry ${label(j)}`}>
                Retry
              </button>
            )}
          </td>
        </tr>
      ))}
    </Table>
  );
}

function groupBatches(list: Job[]) {
  const by = new Map<string, Job[]>();
  for (const j of list) by.set(j.batch_id, [...(by.get(j.batch_id) ?? []), j]);
  return [...by.entries()]
    .filter(([, js]) => js.length > 1)
    .map(([id, js]) => {
      const counts: Record<string, number> = {};
      for (const j of js) counts[j.status] = (counts[j.status] ?? 0) + 1;
      const progress = js.reduce((sum, j) => sum + (FINAL.includes(j.status) ? 100 : j.progress), 0) / js.length;
      return { id, total: js.length, counts, progress };
    });
}
