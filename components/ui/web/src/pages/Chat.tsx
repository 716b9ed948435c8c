// Chat over the tenant's documents: conversations, answers streamed token
// by token, every [n] a link to the cited passage, honest about invalid
// citations and ungrounded answers, with the model, usage and cost.
import { useLocation, useRoute } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { chat } from "../api/lode";
import { readEvents } from "../api/sse";
import type { ChatAnswer, Citation, Turn, Usage } from "../api/types";
import { Choice, ConfirmButton, Empty, ErrorText, Loaded, PageTitle, pagesText, useLoad } from "../ui/bits";

interface Message {
  role: "user" | "assistant";
  content: string;
  streaming?: boolean;
  citations?: Citation[];
  invalid?: number[];
  grounded?: boolean;
  model?: string | null;
  usage?: Usage | null;
  cost?: number | null;
}

const STRATEGIES = ["balanced", "quality", "cost", "latency"];

export function ChatPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id;
  const list = useLoad(() => chat.conversations(), [id]);
  const models = useLoad(() => chat.models(), []);
  const [messages, setMessages] = useState<Message[]>([]);
  const [text, setText] = useState("");
  const [model, setModel] = useState("");
  const [strategy, setStrategy] = useState("balanced");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<Citation | null>(null);
  const conversation = useRef<string | undefined>(id);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    conversation.current = id;
    setError(null);
    if (!id) {
      setMessages([]);
      return;
    }
    if (busy) return; // the answer being streamed created this conversation
    const ctl = new AbortController();
    chat.conversation(id).then(
      (c) => !ctl.signal.aborted && setMessages(c.messages.map(fromTurn)),
      (e) => !ctl.signal.aborted && setError(e),
    );
    return () => ctl.abort();
  }, [id]);

  useEffect(() => {
    if (open) dialog.current?.showModal();
  }, [open]);

  async function ask(e: Event) {
    e.preventDefault();
    const question = text.trim();
    if (!question || busy) return;
    setBusy(true);
    setError(null);
    setText("");
    setMessages((m) => [...m, { role: "user", content: question }, { role: "assistant", content: "", streaming: true }]);
    const patchLast = (patch: Partial<Message>) =>
      setMessages((m) => m.map((x, i) => (i === m.length - 1 ? { ...x, ...patch } : x)));
    try {
      const response = await chat.ask({
        message: question,
        conversation_id: conversation.current,
        ...(model ? { model } : { strategy }),
      });
      let streamed = "";
      await readEvents(response, (ev) => {
        if (ev.event === "token") {
          streamed += (JSON.parse(ev.data) as { text: string }).text;
          patchLast({ content: streamed });
        } else if (ev.event === "done") {
          const a = JSON.parse(ev.data) as ChatAnswer;
          patchLast(fromAnswer(a));
          if (!conversation.current) {
            conversation.current = a.conversation_id;
            route(`/app/chat/${a.conversation_id}`, true);
          }
        } else if (ev.event === "error") {
          const err = (JSON.parse(ev.data) as { error: { code: string; message: string } }).error;
          throw new ApiError(502, err.code, err.message);
        }
      });
      list.reload();
    } catch (err) {
      setError(err);
      patchLast({ streaming: false });
    } finally {
      setBusy(false);
    }
  }

  const chatModels = (models.data?.data ?? []).filter((m) => m.id !== "lode-rag" && m.id !== "all-MiniLM-L6-v2");
  return (
    <section class="chat">
      <PageTitle>Chat</PageTitle>
      <div class="chat-layout">
        <aside aria-label="Conversations" class="conversations">
          <a class="button" href="/app/chat">
            New conversation
          </a>
          <Loaded state={list} what="conversations" empty={(l) => l.data.length === 0 && "No conversations yet."}>
            {(l) => (
              <ul>
                {l.data.map((c) => (
                  <li key={c.id}>
                    <a href={`/app/chat/${c.id}`} aria-current={c.id === id ? "page" : undefined}>
                      {c.title || "Untitled"}
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </Loaded>
        </aside>
        <div class="thread">
          <div class="messages" aria-live="polite" aria-busy={busy}>
            {messages.length === 0 && <Empty>Ask a question about your documents. Answers cite the passages they use.</Empty>}
            {messages.map((m, i) => (
              <MessageView key={i} m={m} onCite={setOpen} />
            ))}
          </div>
          <ErrorText error={error} />
          <form class="stack ask" onSubmit={ask}>
            <label>
              Your question
              <textarea
                rows={3}
                required
                maxLength={4000}
                value={text}
                onInput={(e) => setText(e.currentTarget.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) {
                    e.preventDefault();
                    (e.currentTarget.form as HTMLFormElement).requestSubmit();
                  }
                }}
              />
            </label>
            <div class="row wrap">
              <Choice
                label="Model"
                value={model}
                options={[["", "Chosen by strategy"], ...chatModels.map((m) => [m.id, `${m.id} (${m.owned_by})`] as const)]}
                onChange={setModel}
              />
              <Choice label="Strategy" value={strategy} options={STRATEGIES} disabled={!!model} onChange={setStrategy} />
              <button type="submit" class="primary" disabled={busy}>
                {busy ? "Answering…" : "Ask"}
              </button>
              {id && (
                <ConfirmButton
                  label="Delete conversation"
                  question="Delete this conversation?"
                  confirm="Delete"
                  onConfirm={async () => {
                    await chat.remove(id);
                    route("/app/chat");
                  }}
                />
              )}
            </div>
          </form>
        </div>
      </div>
      <dialog ref={dialog} class="passage" aria-labelledby="passage-title" onClose={() => setOpen(null)}>
        {open && (
          <>
            <h2 id="passage-title">
              [{open.n}] {open.title}
            </h2>
            <p class="muted">{pagesText(open.pages) || "No page numbers (not a PDF)"}</p>
            <blockquote>{open.quote}</blockquote>
            <div class="row between">
              <a href={`/app/documents/${open.document_id}?tab=chunks#chunk-${open.chunk_id}`}>Open the document</a>
              <button type="button" onClick={() => dialog.current?.close()}>
                Close
              </button>
            </div>
          </>
        )}
      </dialog>
    </section>
  );
}

function fromAnswer(a: ChatAnswer): Partial<Message> {
  return {
    content: a.answer,
    streaming: false,
    citations: a.citations,
    invalid: a.invalid_citations,
    grounded: a.grounded,
    model: a.model,
    usage: a.usage,
    cost: a.cost_usd,
  };
}

function fromTurn(t: Turn): Message {
  return {
    role: t.role,
    content: t.content,
    citations: t.citations,
    invalid: t.invalid_citations,
    grounded: t.grounded,
    model: t.model,
    usage: t.usage,
    cost: t.cost_usd,
  };
}

function MessageView({ m, onCite }: { m: Message; onCite: (c: Citation) => void }) {
  if (m.role === "user") {
    return (
      <div class="msg user">
        <span class="visually-hidden">You asked: </span>
        {m.content}
      </div>
    );
  }
  const byN = new Map((m.citations ?? []).map((c) => [c.n, c]));
  const parts = m.content.split(/(\[\d+\])/);
  return (
    <div class={`msg assistant ${m.streaming ? "streaming" : ""}`} data-testid="answer">
      <span class="visually-hidden">Lode answered: </span>
      <p class="answer-text">
        {parts.map((p, i) => {
          const n = /^\[(\d+)\]$/.exec(p)?.[1];
          const c = n ? byN.get(Number(n)) : undefined;
          return c ? (
            <button key={i} type="button" class="cite" onClick={() => onCite(c)} aria-label={`Citation ${c.n}: ${c.title}`}>
              [{c.n}]
            </button>
          ) : (
            p
          );
        })}
        {m.streaming && <span class="cursor" aria-hidden="true" />}
      </p>
      {!m.streaming && m.grounded === false && (
        <p class="warning">Not grounded: no valid citation backs this answer, so check it against your documents.</p>
      )}
      {!m.streaming && (m.invalid?.length ?? 0) > 0 && (
        <p class="warning">
          The model also cited {m.invalid!.map((n) => `[${n}]`).join(", ")}, which matched no passage; Lode removed them.
        </p>
      )}
      {!m.streaming && m.citations && m.citations.length > 0 && (
        <ol class="sources" aria-label="Citations">
          {m.citations.map((c) => (
            <li key={c.n} value={c.n}>
              <button type="button" class="link" onClick={() => onCite(c)}>
                {c.title}
                {c.pages ? `, ${pagesText(c.pages)}` : ""}
              </button>
            </li>
          ))}
        </ol>
      )}
      {!m.streaming && (m.model || m.usage) && (
        <p class="muted small">
          {m.model ?? "no model"}
          {m.usage ? ` · ${m.usage.input_tokens} in / ${m.usage.output_tokens} out tokens` : ""}
          {m.cost != null ? ` · $${m.cost.toFixed(4)}` : ""}
        </p>
      )}
    </div>
  );
}
