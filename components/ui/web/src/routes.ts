// The app's pages, declared once: path, title, the scope that shows them
// in the navigation, and the component (loaded when first visited, except
// the documents library, the landing page). Later features add a row here.
import { lazy } from "preact-iso";
import type { AnyComponent } from "preact";
import type { Scope } from "./api/types";
import { Documents } from "./pages/Documents";

export interface PageDef {
  path: string;
  title: string;
  /** Shown in the navigation under this label (absent: reached by links). */
  nav?: string;
  /** Hidden from callers without it; the API refuses them anyway. */
  scope?: Scope;
  section?: "admin";
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  component: AnyComponent<any>;
}

const Doc = lazy(() => import("./pages/Document").then((m) => m.DocumentPage));
const Search = lazy(() => import("./pages/Search").then((m) => m.SearchPage));
const Chat = lazy(() => import("./pages/Chat").then((m) => m.ChatPage));
const Jobs = lazy(() => import("./pages/Jobs").then((m) => m.JobsPage));
const Keys = lazy(() => import("./pages/admin/Keys").then((m) => m.KeysPage));
const Users = lazy(() => import("./pages/admin/Users").then((m) => m.UsersPage));
const Settings = lazy(() => import("./pages/admin/Settings").then((m) => m.SettingsPage));
const Audit = lazy(() => import("./pages/admin/Audit").then((m) => m.AuditPage));
const Usage = lazy(() => import("./pages/admin/Usage").then((m) => m.UsagePage));

/** Where a page's navigation link points (its path without an optional last parameter). */
export function href(p: PageDef): string {
  return p.path.replace(/\/:[^/]+\?$/, "");
}

export const PAGES: PageDef[] = [
  { path: "/app/documents", title: "Documents", nav: "Documents", scope: "documents:read", component: Documents },
  { path: "/app/documents/:id", title: "Document", scope: "documents:read", component: Doc },
  { path: "/app/search", title: "Search", nav: "Search", scope: "search", component: Search },
  // One route for a new and an open conversation, so the page is not
  // remounted when its first answer names the conversation.
  { path: "/app/chat/:id?", title: "Chat", nav: "Chat", scope: "chat", component: Chat },
  { path: "/app/jobs", title: "Jobs", nav: "Jobs", scope: "documents:read", component: Jobs },
  { path: "/app/admin/keys", title: "API keys", nav: "API keys", scope: "admin", section: "admin", component: Keys },
  { path: "/app/admin/users", title: "Users", nav: "Users", scope: "admin", section: "admin", component: Users },
  { path: "/app/admin/settings", title: "Settings", nav: "Settings", scope: "admin", section: "admin", component: Settings },
  { path: "/app/admin/audit", title: "Audit log", nav: "Audit log", scope: "admin", section: "admin", component: Audit },
  { path: "/app/admin/usage", title: "Usage", nav: "Usage", scope: "chat", section: "admin", component: Usage },
];
