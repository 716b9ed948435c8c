// Sign in with an email and password (a session token that expires: sign
// in again) or with an API key pasted once. Either way the credential stays
// in this tab's sessionStorage.
import { useState } from "preact/hooks";
import { auth } from "../api/lode";
import { signIn, signedOut } from "../session";
import { useStore } from "../store";
import { ErrorText, PageTitle } from "../ui/bits";

export function SignIn() {
  const last = useStore(signedOut);
  const [mode, setMode] = useState<"password" | "key">("password");
  const [email, setEmail] = useState(last?.email ?? "");
  const [password, setPassword] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "password") {
        const answer = await auth.login(email.trim(), password);
        const me = await auth.me(answer.access_token);
        signIn({
          token: answer.access_token,
          kind: "session",
          email: answer.user.email,
          me,
          expiresAt: Date.now() + answer.expires_in * 1000,
        });
      } else {
        const token = key.trim();
        signIn({ token, kind: "key", me: await auth.me(token) });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="signin">
      <PageTitle>Sign in to Lode</PageTitle>
      {last?.reason && (
        <p class="warning" role="alert">
          {last.reason}
        </p>
      )}
      <div class="tabs" role="group" aria-label="How to sign in">
        <button type="button" aria-pressed={mode === "password"} onClick={() => setMode("password")}>
          Email and password
        </button>
        <button type="button" aria-pressed={mode === "key"} onClick={() => setMode("key")}>
          API key
        </button>
      </div>
      <form onSubmit={submit} class="stack">
        {mode === "password" ? (
          <>
            <label>
              Email
              <input type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
            </label>
            <label>
              Password
              <input
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
          </>
        ) : (
          <label>
            API key
            <input
              type="password"
              autoComplete="off"
              required
              placeholder="lode_… or the operator's bootstrap key"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
            <small class="muted">Kept only in this browser tab, until you sign out or close it.</small>
          </label>
        )}
        <ErrorText error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
