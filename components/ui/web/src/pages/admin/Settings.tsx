// The tenant's settings: chunking, rate limits and quotas. A PUT replaces
// all of them, so the form sends every field it was given.
import { useEffect, useState } from "preact/hooks";
import { admin } from "../../api/lode";
import type { Settings } from "../../api/types";
import { notices } from "../../notices";
import { ErrorText, Loading, PageTitle, When, useLoad } from "../../ui/bits";

const WORDS: Record<string, string> = {
  api_per_minute: "API requests a minute, per key",
  llm_per_minute: "LLM calls a minute, per key",
  ingest_per_minute: "Ingestions a minute, per key",
  tenant_api_per_minute: "API requests a minute, whole tenant",
  tenant_llm_per_minute: "LLM calls a minute, whole tenant",
  tenant_ingest_per_minute: "Ingestions a minute, whole tenant",
  documents: "Documents",
  stored_bytes: "Stored bytes",
  chunks: "Chunks",
  queued_jobs: "Queued jobs",
  llm_tokens_per_day: "LLM tokens a day",
  llm_usd_per_day: "LLM spend a day (USD)",
};

export function SettingsPage() {
  const loaded = useLoad(() => admin.settings(), []);
  const [form, setForm] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (loaded.data) setForm(structuredClone(loaded.data));
  }, [loaded.data]);

  if (loaded.loading && !loaded.data) return <Loading what="Loading settings" />;
  if (loaded.error) return <ErrorText error={loaded.error} />;
  if (!form) return null;

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const { chunking, rate_limits, quotas } = form!;
      await admin.saveSettings({ chunking, rate_limits, quotas });
      notices.show("Settings saved.", "info", 4000);
      loaded.reload();
    } catch (err) {
      setError(err);
    }
  }

  const set = (section: "rate_limits" | "quotas", key: string, value: number) =>
    setForm({ ...form, [section]: { ...form[section], [key]: value } });

  return (
    <section>
      <PageTitle>Settings</PageTitle>
      <p class="muted">
        {loaded.data?.updated_at ? (
          <>
            Last changed <When at={loaded.data.updated_at} />.
          </>
        ) : (
          "Built-in defaults: never changed."
        )}
      </p>
      <form class="stack" onSubmit={save}>
        <fieldset class="card">
          <legend>Chunking of new documents</legend>
          <div class="row wrap">
            <label>
              Target tokens per chunk (16–254)
              <input
                type="number"
                min={16}
                max={254}
                required
                value={form.chunking.target_tokens}
                onInput={(e) => setForm({ ...form, chunking: { ...form.chunking, target_tokens: Number(e.currentTarget.value) } })}
              />
            </label>
            <label>
              Overlap (0–0.5)
              <input
                type="number"
                min={0}
                max={0.5}
                step={0.01}
                required
                value={form.chunking.overlap}
                onInput={(e) => setForm({ ...form, chunking: { ...form.chunking, overlap: Number(e.currentTarget.value) } })}
              />
            </label>
          </div>
        </fieldset>
        {(["rate_limits", "quotas"] as const).map((section) => (
          <fieldset class="card" key={section}>
            <legend>{section === "rate_limits" ? "Rate limits" : "Quotas"}</legend>
            <div class="grid">
              {Object.entries(form[section]).map(([key, value]) => (
                <label key={key}>
                  {WORDS[key] ?? key}
                  <input
                    type="number"
                    min={0}
                    step={key.endsWith("usd_per_day") ? 0.01 : 1}
                    required
                    value={value}
                    onInput={(e) => set(section, key, Number(e.currentTarget.value))}
                  />
                </label>
              ))}
            </div>
          </fieldset>
        ))}
        <ErrorText error={error} />
        <button type="submit" class="primary">
          Save settings
        </button>
      </form>
    </section>
  );
}
