// One document: its Markdown (sanitised), versions with a diff between two,
// its chunks with pages and headings, the LLM tools, and deletion.
import { diffLines } from "diff";
import { useLocation, useRoute } from "preact-iso";
import { useState } from "preact/hooks";
import { follow } from "../api/follow";
import { documents, jobs, tools } from "../api/lode";
import type { Job, ToolRun } from "../api/types";
import { can, session } from "../session";
import { useStore } from "../store";
import { Choice, ConfirmButton, Empty, ErrorText, Loaded, Loading, PageTitle, Table, When, pagesText, useLoad } from "../ui/bits";
import { Markdown } from "../ui/safe";
import { size } from "./Documents";

type Tab = "content" | "versions" | "chunks" | "tools";

export function DocumentPage() {
  const { params, query } = useRoute();
  const id = params.id ?? "";
  const { route } = useLocation();
  const s = useStore(session);
  const tab = (query.tab as Tab) || "content";
  const doc = useLoad(() => documents.get(id), [id]);
  if (doc.loading && !doc.data) return <Loading what="Loading the document" />;
  if (doc.error || !doc.data) {
    return (
      <section>
        <PageTitle>Document</PageTitle>
        <ErrorText error={doc.error} />
      </section>
    );
  }
  const d = doc.data;
  const tabs: [Tab, string][] = [
    ["content", "Content"],
    ["versions", "Versions"],
    ["chunks", "Chunks"],
    ...(can(s, "tools") ? ([["tools", "Tools"]] as [Tab, string][]) : []),
  ];
  return (
    <article>
      <PageTitle>{d.title}</PageTitle>
      <p class="muted">
        Version {d.version} · {size(d.size_bytes)} · updated <When at={d.updated_at} />
        {Object.entries(d.metadata).length > 0 && (
          <>
            {" · "}
            {Object.entries(d.metadata)
              .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
              .join(", ")}
          </>
        )}
      </p>
      <div class="row between wrap">
        <nav class="tabs" aria-label="Document sections">
          {tabs.map(([t, label]) => (
            <a key={t} href={`/app/documents/${id}?tab=${t}`} aria-current={tab === t ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        {can(s, "documents:write") && (
          <ConfirmButton
            label="Delete document"
            question={`Delete "${d.title}"? Its versions, chunks and tool results go with it.`}
            confirm="Delete"
            onConfirm={async () => {
              await documents.remove(id);
              route("/app/documents");
            }}
          />
        )}
      </div>
      {tab === "content" && <Markdown text={d.content ?? ""} />}
      {tab === "versions" && <Versions id={id} current={d.version} />}
      {tab === "chunks" && <Chunks id={id} />}
      {tab === "tools" && <Tools id={id} />}
    </article>
  );
}

function Versions({ id, current }: { id: string; current: number }) {
  const list = useLoad(() => documents.versions(id), [id]);
  const [a, setA] = useState(Math.max(1, current - 1));
  const [b, setB] = useState(current);
  const diff = useLoad(
    async () => {
      if (a === b) return null;
      const [x, y] = await Promise.all([documents.version(id, a), documents.version(id, b)]);
      return diffLines(x.content ?? "", y.content ?? "");
    },
    [id, a, b],
  );
  return (
    <Loaded state={list} what="versions">
      {({ data: versions }) => {
        const numbers = versions.map((v) => v.version);
        return (
          <section aria-label="Versions">
            <Table head={["Version", "Title", "Size", "Written"]}>
              {versions.map((v) => (
                <tr key={v.version}>
                  <td>{v.version}</td>
                  <td>{v.title}</td>
                  <td>{size(v.size_bytes)}</td>
                  <td>
                    <When at={v.created_at} />
                  </td>
                </tr>
              ))}
            </Table>
            {versions.length < 2 ? (
              <Empty>Only one version so far: updating the document writes the next.</Empty>
            ) : (
              <>
                <div class="row">
                  <Choice label="Compare version" value={a} options={numbers} onChange={setA} />
                  <Choice label="with version" value={b} options={numbers} onChange={setB} />
                </div>
                <Loaded state={diff} what="the comparison">
                  {(parts) =>
                    parts && (
                      <pre class="diff" aria-label={`Changes from version ${a} to ${b}`}>
                        {parts.map((part, i) => (
                          <span key={i} class={part.added ? "added" : part.removed ? "removed" : ""}>
                            {part.value
                              .split("\n")
                              .filter((line, j, all) => j < all.length - 1 || line)
                              .map((line) => `${part.added ? "+ " : part.removed ? "- " : "  "}${line}\n`)
                              .join("")}
                          </span>
                        ))}
                      </pre>
                    )
                  }
                </Loaded>
              </>
            )}
          </section>
        );
      }}
    </Loaded>
  );
}

function Chunks({ id }: { id: string }) {
  const list = useLoad(() => documents.chunks(id), [id]);
  return (
    <Loaded state={list} what="chunks" empty={(l) => l.data.length === 0 && "No chunks: the document has no indexed text."}>
      {(l) => (
        <ol class="chunks">
          {l.data.map((c) => (
            <li key={c.id} id={`chunk-${c.id}`}>
              <p class="muted">
                #{c.ordinal + 1}
                {c.pages && ` · ${pagesText(c.pages)}`}
                {c.heading_path.length > 0 && ` · ${c.heading_path.join(" › ")}`} · {c.token_count} tokens
              </p>
              <p class="chunk-text">{c.text}</p>
            </li>
          ))}
        </ol>
      )}
    </Loaded>
  );
}

/** The tools, the inputs each needs, and how to show a result. */
const TOOLS: { name: string; label: string; field?: { key: string; label: string; list?: boolean; required: boolean } }[] = [
  { name: "summarize", label: "Summarize" },
  { name: "extract-entities", label: "Entities" },
  { name: "classify", label: "Classify", field: { key: "labels", label: "Labels (comma-separated)", list: true, required: true } },
  { name: "keywords", label: "Keywords" },
  { name: "sentiment", label: "Sentiment" },
  { name: "translate", label: "Translate", field: { key: "target_language", label: "Target language", required: true } },
  { name: "answer", label: "Answer a question", field: { key: "question", label: "Question", required: true } },
];

function Tools({ id }: { id: string }) {
  const [tool, setTool] = useState(TOOLS[0]!.name);
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<ToolRun | null>(null);
  const def = TOOLS.find((t) => t.name === tool)!;

  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const input: Record<string, unknown> = {};
      if (def.field && value.trim()) {
        input[def.field.key] = def.field.list ? value.split(",").map((v) => v.trim()).filter(Boolean) : value.trim();
      }
      const answer = await tools.runOnDocument(id, tool, input);
      if ("job_id" in answer) {
        // Too long to run within the request: Lode queued it.
        const ctl = new AbortController();
        await follow((answer as Job).job_id, () => {}, ctl.signal);
        const job = await jobs.get((answer as Job).job_id);
        if (job.status !== "completed") throw new Error(job.error ?? `The tool run ${job.status}.`);
        setResult(job.result as unknown as ToolRun);
      } else {
        setResult(answer as ToolRun);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-label="Tools">
      <form class="stack" onSubmit={run}>
        <Choice
          label="Tool"
          value={tool}
          options={TOOLS.map((t) => [t.name, t.label] as const)}
          onChange={(t) => {
            setTool(t);
            setValue("");
            setResult(null);
          }}
        />
        {def.field && (
          <label>
            {def.field.label}
            <input required={def.field.required} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </label>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Running…" : `Run ${def.label.toLowerCase()}`}
        </button>
      </form>
      <ErrorText error={error} />
      {result && <ToolResult run={result} />}
    </section>
  );
}

function ToolResult({ run }: { run: ToolRun }) {
  const r = run.result;
  let body;
  if (typeof r.summary === "string") body = <p>{r.summary}</p>;
  else if (typeof r.translation === "string") body = <p lang={String(r.target_language)}>{r.translation}</p>;
  else if (typeof r.answer === "string") body = <p>{r.found ? r.answer : `Not found in the document. ${r.answer}`}</p>;
  else if (Array.isArray(r.keywords)) body = <Tags items={r.keywords.map(String)} />;
  else if (Array.isArray(r.labels)) body = <Tags items={r.labels.map(String)} />;
  else if (Array.isArray(r.entities))
    body = (
      <ul>
        {(r.entities as { text: string; type: string }[]).map((e, i) => (
          <li key={i}>
            {e.text} <span class="tag">{e.type}</span>
          </li>
        ))}
      </ul>
    );
  else if (typeof r.sentiment === "string")
    body = (
      <p>
        {r.sentiment} (score {Number(r.score).toFixed(2)})
      </p>
    );
  else body = <pre>{JSON.stringify(r, null, 2)}</pre>;
  return (
    <section class="card" aria-label="Result">
      <h2>Result</h2>
      {body}
      <p class="muted">
        {run.model ?? "no model"} · {run.llm_calls} call{run.llm_calls === 1 ? "" : "s"}
        {run.cached ? " · cached" : ""}
        {run.truncated ? " · only the first part was read" : ""}
        {run.cost_usd != null ? ` · $${run.cost_usd.toFixed(4)}` : ""}
      </p>
    </section>
  );
}

function Tags({ items }: { items: string[] }) {
  return (
    <ul class="tags">
      {items.map((t) => (
        <li key={t} class="tag">
          {t}
        </li>
      ))}
    </ul>
  );
}

