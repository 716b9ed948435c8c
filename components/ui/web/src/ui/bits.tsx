// Small shared pieces: error text, loading and empty states, progress,
// confirmation, copying, dates.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { describe } from "../api/client";
import { notices } from "../notices";

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function ProgressBar({ value, label, tone }: { value: number; label: string; tone?: "failed" | "done" }) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div class={`progress ${tone ?? ""}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={v}>
      <div class="bar" style={{ width: `${v}%` }} />
    </div>
  );
}

/** A button that asks before it acts (deletes, revokes). */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirm: string;
  onConfirm: () => Promise<void> | void;
  class?: string;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button type="button" class={props.class ?? "danger"} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.question}>
        <p>{props.question}</p>
        <div class="row end">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await props.onConfirm();
              } catch (e) {
                notices.show(describe(e), "error", 8000);
              } finally {
                setBusy(false);
                dialog.current?.close();
              }
            }}
          >
            {props.confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          notices.show("Copied to the clipboard.", "info", 3000);
        } catch {
          notices.show("The browser did not allow copying; select the text and copy it.", "warning", 6000);
        }
      }}
    >
      {label}
    </button>
  );
}

export function When({ at }: { at: string | number }) {
  const d = new Date(at);
  return <time dateTime={d.toISOString()}>{d.toLocaleString()}</time>;
}

export function pagesText(pages: [number, number] | null): string {
  if (!pages) return "";
  return pages[0] === pages[1] ? `p. ${pages[0]}` : `pp. ${pages[0]}–${pages[1]}`;
}

/** Run `load` when `deps` change; its result, error and a reload. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false }),
      (error) => !ctl.signal.aborted && setState({ error, loading: false }),
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function PageTitle({ children }: { children: string }) {
  useEffect(() => {
    document.title = `${children} · Lode`;
  }, [children]);
  return <h1 tabIndex={-1} id="page-title">{children}</h1>;
}

/** A loaded value's three other states, then `children` with the value. */
export function Loaded<T>(props: {
  state: { data?: T; error?: unknown; loading: boolean };
  what: string;
  /** Shown instead of `children` when this says the value is empty. */
  empty?: (data: T) => string | false;
  children: (data: T) => ComponentChildren;
}) {
  const { data, error, loading } = props.state;
  if (loading && data === undefined) return <Loading what={`Loading ${props.what}`} />;
  if (error) return <ErrorText error={error} />;
  if (data === undefined) return null;
  const empty = props.empty?.(data);
  return empty ? <Empty>{empty}</Empty> : <>{props.children(data)}</>;
}

/** A table with column headers; an empty header is an actions column. Its
 *  box scrolls sideways on a narrow screen, so it takes focus (arrow keys
 *  scroll it) and is named for what it holds. */
export function Table({ head, children, class: cls }: { head: string[]; children: ComponentChildren; class?: string }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`Table: ${head.filter(Boolean).join(", ")}`}>
      <table class={cls}>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} scope="col">
                {h || <span class="visually-hidden">Actions</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A `<select>` of the given values, labelled. */
export function Choice<V extends string | number>(props: {
  label: string;
  hideLabel?: boolean;
  value: V;
  options: readonly V[] | readonly (readonly [V, string])[];
  onChange: (v: V) => void;
  disabled?: boolean;
}) {
  const options = (props.options as readonly (V | readonly [V, string])[]).map(
    (o): readonly [V, string] => (Array.isArray(o) ? (o as readonly [V, string]) : [o as V, String(o)]),
  );
  // A label outside the select (joined by id), so the select's name is the
  // label alone, not the label and the chosen option.
  const id = useId();
  return (
    <div class="field">
      <label for={id} class={props.hideLabel ? "visually-hidden" : undefined}>
        {props.label}
      </label>
      <select
        id={id}
        value={String(props.value)}
        disabled={props.disabled}
        onChange={(e) => {
          const raw = e.currentTarget.value;
          const found = options.find(([v]) => String(v) === raw);
          if (found) props.onChange(found[0]);
        }}
      >
        {options.map(([v, text]) => (
          <option key={String(v)} value={String(v)}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export const ROLES = ["viewer", "editor", "admin"] as const;

/** Metadata filters typed as `key=value, key=value` (all must match). */
export function parseFilters(text: string): { pairs: [string, string][]; error?: string } {
  const pairs: [string, string][] = [];
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at <= 0) return { pairs: [], error: `"${part}" is not key=value.` };
    pairs.push([part.slice(0, at).trim(), part.slice(at + 1).trim()]);
  }
  return { pairs };
}
