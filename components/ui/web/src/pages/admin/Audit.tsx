// The tenant's audit log, newest first, a page at a time.
import { useState } from "preact/hooks";
import { admin } from "../../api/lode";
import { Loaded, PageTitle, Table, When, useLoad } from "../../ui/bits";

export function AuditPage() {
  const [before, setBefore] = useState<number[]>([]);
  const log = useLoad(() => admin.audit(before[before.length - 1]), [before.length]);
  return (
    <section>
      <PageTitle>Audit log</PageTitle>
      <Loaded state={log} what="the audit log" empty={(l) => l.data.length === 0 && "Nothing recorded yet."}>
        {(l) => (
          <div class="card">
            <Table head={["When", "Who", "Action", "Target", "Detail"]}>
              {l.data.map((e) => (
                <tr key={e.id}>
                  <td>
                    <When at={e.at} />
                  </td>
                  <td>
                    <code>{e.actor}</code>
                  </td>
                  <td>{e.action}</td>
                  <td>
                    <code>{e.target}</code>
                  </td>
                  <td class="small">{Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""}</td>
                </tr>
              ))}
            </Table>
            <div class="row between">
              <button type="button" disabled={!before.length} onClick={() => setBefore((b) => b.slice(0, -1))}>
                Newer
              </button>
              <button
                type="button"
                disabled={!l.next_before}
                onClick={() => l.next_before && setBefore((b) => [...b, l.next_before!])}
              >
                Older
              </button>
            </div>
          </div>
        )}
      </Loaded>
    </section>
  );
}
