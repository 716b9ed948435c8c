// API keys: create one with a role and optional narrower scopes (the
// secret is shown once, with a copy button), list them, revoke.
import { useState } from "preact/hooks";
import { admin } from "../../api/lode";
import type { NewKey, Role, Scope } from "../../api/types";
import { session } from "../../session";
import { useStore } from "../../store";
import { Choice, ConfirmButton, CopyButton, ErrorText, Loaded, PageTitle, ROLES, Table, When, useLoad } from "../../ui/bits";

const ROLE_SCOPES: Record<Role, Scope[]> = {
  viewer: ["documents:read", "search", "chat"],
  editor: ["documents:read", "documents:write", "search", "chat", "tools"],
  admin: ["documents:read", "documents:write", "search", "chat", "tools", "admin"],
};

export function KeysPage() {
  const s = useStore(session)!;
  const keys = useLoad(() => admin.keys(), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [tenant, setTenant] = useState(s.me.tenant);
  const [scopes, setScopes] = useState<Scope[] | null>(null);
  const [created, setCreated] = useState<NewKey | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function create(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const key = await admin.createKey({ tenant, name: name.trim(), role, ...(scopes ? { scopes } : {}) });
      setCreated(key);
      setName("");
      setScopes(null);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  const chosen = scopes ?? ROLE_SCOPES[role];
  return (
    <section>
      <PageTitle>API keys</PageTitle>
      <form class="card stack" onSubmit={create} aria-labelledby="new-key-title">
        <h2 id="new-key-title">New key</h2>
        <div class="row wrap">
          <label class="grow">
            Name
            <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="CI pipeline" />
          </label>
          <Choice
            label="Role"
            value={role}
            options={ROLES}
            onChange={(r) => {
              setRole(r);
              setScopes(null);
            }}
          />
          {s.me.credential === "bootstrap" && (
            <label>
              Tenant
              <input required pattern="[a-z0-9_-]{1,63}" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} />
            </label>
          )}
        </div>
        <fieldset>
          <legend>Scopes (narrow the role if you like)</legend>
          {ROLE_SCOPES[role].map((sc) => (
            <label key={sc} class="inline">
              <input
                type="checkbox"
                checked={chosen.includes(sc)}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  const next = on ? [...chosen, sc] : chosen.filter((x) => x !== sc);
                  setScopes(next.length === ROLE_SCOPES[role].length ? null : next);
                }}
              />{" "}
              {sc}
            </label>
          ))}
        </fieldset>
        <ErrorText error={error} />
        <button type="submit" class="primary" disabled={chosen.length === 0}>
          Create key
        </button>
      </form>
      {created && (
        <section class="card secret" aria-labelledby="secret-title" role="alert">
          <h2 id="secret-title">Key "{created.name}" created</h2>
          <p>Copy the secret now: Lode stores only its hash and will not show it again.</p>
          <div class="row">
            <code class="grow" data-testid="new-secret">
              {created.key}
            </code>
            <CopyButton text={created.key} label="Copy secret" />
          </div>
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      )}
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Active keys</h2>
        <Loaded state={keys} what="keys" empty={(k) => k.data.length === 0 && "No keys yet."}>
          {(k) => (
            <Table head={["Name", "Tenant", "Role", "Scopes", "Created", ""]}>
              {k.data.map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td>{key.tenant}</td>
                  <td>{key.role}</td>
                  <td class="small">{key.scopes.join(", ")}</td>
                  <td>
                    <When at={key.created_at} />
                  </td>
                  <td>
                    <ConfirmButton
                      label={`Revoke ${key.name}`}
                      question={`Revoke "${key.name}"? It stops working at once.`}
                      confirm="Revoke"
                      onConfirm={async () => {
                        await admin.revokeKey(key.id);
                        keys.reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
      </section>
    </section>
  );
}
