// Users of the tenant: add one (with a first password), change a role,
// reset a password (ending the user's sessions), delete.
import { useState } from "preact/hooks";
import { admin } from "../../api/lode";
import type { Role, UserInfo } from "../../api/types";
import { notices } from "../../notices";
import { describe } from "../../api/client";
import { Choice, ConfirmButton, ErrorText, Loaded, PageTitle, ROLES, Table, When, useLoad } from "../../ui/bits";

export function UsersPage() {
  const users = useLoad(() => admin.users(), []);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<unknown>(null);

  async function add(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const u = await admin.register({ email: email.trim(), password, role });
      notices.show(`${u.email} can now sign in.`, "info", 5000);
      setEmail("");
      setPassword("");
      users.reload();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section>
      <PageTitle>Users</PageTitle>
      <form class="card stack" onSubmit={add} aria-labelledby="add-user-title">
        <h2 id="add-user-title">Add a user</h2>
        <div class="row wrap">
          <label class="grow">
            Email
            <input type="email" required autoComplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <label class="grow">
            First password (10+ characters)
            <input
              type="password"
              required
              minLength={10}
              autoComplete="new-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <Choice label="Role" value={role} options={ROLES} onChange={setRole} />
        </div>
        <ErrorText error={error} />
        <button type="submit" class="primary">
          Add user
        </button>
      </form>
      <section class="card" aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        <Loaded state={users} what="users" empty={(u) => u.data.length === 0 && "No users yet."}>
          {(u) => (
            <Table head={["Email", "Role", "Created", ""]}>
              {u.data.map((user) => (
                <UserRow key={user.id} u={user} reload={users.reload} />
              ))}
            </Table>
          )}
        </Loaded>
      </section>
    </section>
  );
}

function UserRow({ u, reload }: { u: UserInfo; reload: () => void }) {
  const [reset, setReset] = useState("");
  async function act(p: Promise<unknown>, done: string) {
    try {
      await p;
      notices.show(done, "info", 4000);
      reload();
    } catch (e) {
      notices.show(describe(e), "error", 8000);
    }
  }
  return (
    <tr>
      <td>{u.email}</td>
      <td>
        <Choice
          label={`Role of ${u.email}`}
          hideLabel
          value={u.role}
          options={ROLES}
          onChange={(r) => act(admin.updateUser(u.id, { role: r }), `${u.email} is now ${r}.`)}
        />
      </td>
      <td>
        <When at={u.created_at} />
      </td>
      <td>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void act(admin.updateUser(u.id, { password: reset }), `${u.email}'s password was reset; their sessions ended.`);
            setReset("");
          }}
        >
          <label>
            <span class="visually-hidden">New password for {u.email}</span>
            <input type="password" minLength={10} required placeholder="New password" autoComplete="new-password" value={reset} onInput={(e) => setReset(e.currentTarget.value)} />
          </label>
          <button type="submit">Reset password</button>
        </form>
        <ConfirmButton
          label={`Delete ${u.email}`}
          question={`Delete ${u.email}? Their sessions end at once.`}
          confirm="Delete"
          onConfirm={async () => {
            await admin.deleteUser(u.id);
            reload();
          }}
        />
      </td>
    </tr>
  );
}
