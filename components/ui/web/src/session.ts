// Who is signed in. The credential lives in sessionStorage (gone when the
// tab closes), never in localStorage or a cookie.
import { Store } from "./store";
import type { Role, Whoami } from "./api/types";

export interface Session {
  token: string;
  /** A user's session token (expires; sign in again) or an API key. */
  kind: "session" | "key";
  email?: string;
  me: Whoami;
  /** Epoch ms after which a session token no longer works. */
  expiresAt?: number;
}

const KEY = "lode.session";

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export const session = new Store<Session | null>(load());
/** Why the last sign-out happened (shown on the sign-in page), and whose email. */
export const signedOut = new Store<{ reason: string; email?: string } | null>(null);

export function signIn(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  signedOut.set(null);
  session.set(s);
}

export function signOut(reason = "", email?: string): void {
  const was = session.get();
  sessionStorage.removeItem(KEY);
  signedOut.set(reason ? { reason, email: email ?? was?.email } : null);
  session.set(null);
}

export function can(s: Session | null, scope: Whoami["scopes"][number]): boolean {
  return !!s && s.me.scopes.includes(scope);
}

export function roleOf(s: Session | null): Role | null {
  return s?.me.role ?? null;
}
