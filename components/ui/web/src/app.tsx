// The shell: sign-in gate, navigation from the page table, the router, and
// the live region for notices.
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { auth } from "./api/lode";
import { notices } from "./notices";
import { PAGES, href, type PageDef } from "./routes";
import { can, session, signOut, type Session } from "./session";
import { useStore } from "./store";
import { SignIn } from "./pages/SignIn";
import { PageTitle } from "./ui/bits";

export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}

function Shell() {
  const current = useStore(session);
  const { path, route } = useLocation();
  useEffect(() => {
    if (current && (path === "/" || path === "/app" || path === "/app/" || path === "/app/sign-in")) {
      route(landing(current), true);
    }
  }, [current, path]);
  if (!current) {
    return (
      <>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <main id="main" class="narrow">
          <SignIn />
        </main>
        <Notices />
      </>
    );
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header s={current} />
      <main id="main">
        <ErrorBoundary>
          <Router onRouteChange={focusNewPage} onLoadEnd={focusNewPage}>
            {[
              ...PAGES.map((p) => <Route key={p.path} path={p.path} component={guarded(p, current)} />),
              <Route key="default" default component={NotFound} />,
            ]}
          </Router>
        </ErrorBoundary>
      </main>
      <Notices />
    </>
  );
}

let section = "";
/** Moving to another page puts focus on its title, so a screen reader
 *  announces it and Tab starts there; staying in one page does not. */
function focusNewPage(url: string) {
  const next = url.split("?")[0]!.split("/").slice(0, 3).join("/");
  if (next === section) return;
  const first = section === "";
  section = next;
  if (!first) requestAnimationFrame(() => document.getElementById("page-title")?.focus());
}

function landing(s: Session): string {
  const first = PAGES.find((p) => p.nav && (!p.scope || can(s, p.scope)));
  return first ? href(first) : "/app/documents";
}

/** A page the caller lacks the scope for says so (the API would refuse it). */
function guarded(p: PageDef, s: Session) {
  if (!p.scope || can(s, p.scope)) return p.component;
  return () => (
    <section>
      <PageTitle>{p.title}</PageTitle>
      <p class="error" role="alert">
        Your {s.me.role} access does not include this page (it needs the {p.scope} scope).
      </p>
    </section>
  );
}

function NotFound() {
  return (
    <section>
      <PageTitle>Not found</PageTitle>
      <p>
        There is no page here. <a href="/app/documents">Go to your documents</a>.
      </p>
    </section>
  );
}

function Header({ s }: { s: Session }) {
  const { path } = useLocation();
  const visible = PAGES.filter((p) => p.nav && (!p.scope || can(s, p.scope)));
  const main = visible.filter((p) => !p.section);
  const adminPages = s.me.role === "admin" ? visible.filter((p) => p.section === "admin") : [];
  const link = (p: PageDef) => (
    <li key={p.path}>
      <a href={href(p)} aria-current={path === href(p) || path.startsWith(href(p) + "/") ? "page" : undefined}>
        {p.nav}
      </a>
    </li>
  );
  return (
    <header class="top">
      <a class="brand" href="/app/documents" aria-label="Lode home">
        Lode
      </a>
      <nav aria-label="Main">
        <ul>{main.map(link)}</ul>
        {adminPages.length > 0 && (
          <ul aria-label="Admin" class="admin-nav">
            {adminPages.map(link)}
          </ul>
        )}
      </nav>
      <div class="who">
        <span title={`tenant ${s.me.tenant}`}>
          {s.email ?? (s.me.credential === "bootstrap" ? "bootstrap key" : `key ${s.me.id ?? ""}`)} · {s.me.role}
        </span>
        <button type="button" onClick={() => signOutNow(s)}>
          Sign out
        </button>
      </div>
    </header>
  );
}

async function signOutNow(s: Session) {
  if (s.kind === "session") {
    try {
      await auth.logout();
    } catch {
      // The token may have expired already; signing out locally is what matters.
    }
  }
  signOut();
}

function Notices() {
  const list = useStore(notices);
  return (
    <div class="notices" role="status" aria-live="polite">
      {list.map((n) => (
        <div key={n.id} class={`notice ${n.tone}`}>
          <span>{n.text}</span>
          <button type="button" aria-label="Dismiss" onClick={() => notices.dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
