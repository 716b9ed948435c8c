// Search the tenant's documents: hybrid, vector or full text, with filters
// and k; each hit shows its document, pages, heading path and a snippet
// whose only markup is <mark> (sanitised).
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { search } from "../api/lode";
import type { SearchAnswer, SearchMode } from "../api/types";
import { Empty, ErrorText, Loading, PageTitle, pagesText, parseFilters } from "../ui/bits";
import { Snippet } from "../ui/safe";

export function SearchPage() {
  const { query: q } = useLocation();
  const [text, setText] = useState(q.q ?? "");
  const [mode, setMode] = useState<SearchMode>((q.mode as SearchMode) || "hybrid");
  const [k, setK] = useState(10);
  const [filters, setFilters] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [answer, setAnswer] = useState<SearchAnswer | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const parsed = parseFilters(filters);
      if (parsed.error) throw new Error(parsed.error);
      const metadata = Object.fromEntries(parsed.pairs);
      setAnswer(
        await search({
          query: text,
          mode,
          k,
          ...(Object.keys(metadata).length ? { metadata } : {}),
        }),
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <PageTitle>Search</PageTitle>
      <form class="card stack" onSubmit={submit} role="search">
        <label>
          Query
          <input type="search" required maxLength={8000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <div class="row wrap">
          <fieldset class="modes">
            <legend>Mode</legend>
            {(
              [
                ["hybrid", "Hybrid"],
                ["vector", "Vector"],
                ["fulltext", "Full text"],
              ] as [SearchMode, string][]
            ).map(([m, label]) => (
              <label key={m} class="inline">
                <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} /> {label}
              </label>
            ))}
          </fieldset>
          <label>
            Results (k)
            <input type="number" min={1} max={100} value={k} onInput={(e) => setK(Number(e.currentTarget.value) || 10)} />
          </label>
          <label class="grow">
            Metadata filters
            <input type="text" placeholder="author=ann, year=2024" value={filters} onInput={(e) => setFilters(e.currentTarget.value)} />
          </label>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorText error={error} />
      {busy && <Loading what="Searching" />}
      {answer &&
        (answer.data.length === 0 ? (
          <Empty>Nothing matched "{answer.query}".</Empty>
        ) : (
          <ol class="hits" aria-label="Results">
            {answer.data.map((h) => (
              <li key={h.chunk_id} class="card hit">
                <h2>
                  <a href={`/app/documents/${h.document_id}?tab=chunks#chunk-${h.chunk_id}`}>{h.title}</a>
                </h2>
                <p class="muted">
                  {[pagesText(h.pages), h.heading_path.join(" › "), `score ${h.score.toFixed(3)}`].filter(Boolean).join(" · ")}
                </p>
                <p>
                  <Snippet html={h.snippet} />
                </p>
              </li>
            ))}
          </ol>
        ))}
    </section>
  );
}
