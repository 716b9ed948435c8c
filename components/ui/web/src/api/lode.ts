// Lode's endpoints, typed. Every function is one call of the public API, so
// anything the app does can be done with curl.
import { call, del, get, patch, post, put, query, send } from "./client";
import type * as T from "./types";

export const auth = {
  login: (email: string, password: string) =>
    call<T.LoginAnswer>("POST", "/api/auth/login", { json: { email, password }, anonymous: true }),
  /** Ask Lode who a credential is (it is not yet the stored session). */
  me: (token: string) =>
    call<T.Whoami>("GET", "/api/auth/me", { headers: { Authorization: `Bearer ${token}` }, anonymous: true }),
  logout: () => call<void>("POST", "/api/auth/logout"),
};

export const documents = {
  list: (p: { limit?: number; cursor?: string; title?: string; metadata?: [string, string][] }) => {
    const params: Record<string, string | number | undefined> = { limit: p.limit, cursor: p.cursor, title: p.title };
    for (const [k, v] of p.metadata ?? []) if (k) params[`metadata.${k}`] = v;
    return get<T.Page<T.Document>>(`/api/documents${query(params)}`);
  },
  get: (id: string) => get<T.Document>(`/api/documents/${enc(id)}`),
  remove: (id: string) => del(`/api/documents/${enc(id)}`),
  versions: (id: string) => get<T.List<T.VersionInfo>>(`/api/documents/${enc(id)}/versions`),
  version: (id: string, n: number) => get<T.Document>(`/api/documents/${enc(id)}/versions/${n}`),
  chunks: (id: string) => get<T.List<T.Chunk>>(`/api/documents/${enc(id)}/chunks`),
  upload: (files: File[], metadata?: Record<string, unknown>) => {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    if (metadata && Object.keys(metadata).length) form.append("metadata", JSON.stringify(metadata));
    return call<T.Queued>("POST", "/api/documents/upload", { body: form });
  },
  fromUrl: (url: string, title?: string) =>
    post<T.Queued>("/api/documents/from-url", title ? { url, title } : { url }),
};

export const jobs = {
  list: (status?: T.JobStatus, limit = 100) => get<T.List<T.Job>>(`/api/jobs${query({ status, limit })}`),
  dead: () => get<T.List<T.Job>>("/api/jobs/dead"),
  get: (id: string) => get<T.Job>(`/api/jobs/${enc(id)}`),
  retry: (id: string) => post<T.Job>(`/api/jobs/${enc(id)}/retry`),
  redrive: () => post<T.List<T.Job>>("/api/jobs/redrive"),
  /** The job's events after `lastEventId` (the response ends after them). */
  events: (id: string, lastEventId?: string, signal?: AbortSignal) =>
    send("GET", `/api/jobs/${enc(id)}/events`, {
      headers: { Accept: "text/event-stream", ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}) },
      signal,
    }),
};

export const search = (body: {
  query: string;
  mode: T.SearchMode;
  k: number;
  document_ids?: string[];
  metadata?: Record<string, string>;
}) => post<T.SearchAnswer>("/api/search", body);

export const chat = {
  conversations: () => get<T.List<T.Conversation>>("/api/conversations"),
  conversation: (id: string) => get<T.Conversation & { messages: T.Turn[] }>(`/api/conversations/${enc(id)}`),
  remove: (id: string) => del(`/api/conversations/${enc(id)}`),
  models: () => get<{ data: T.Model[] }>("/v1/models"),
  /** Ask with `stream: true`: the response is an SSE stream of token/done/error. */
  ask: (body: { message: string; conversation_id?: string; model?: string; strategy?: string }, signal?: AbortSignal) =>
    send("POST", "/api/chat", { json: { ...body, stream: true }, headers: { Accept: "text/event-stream" }, signal }),
};

export const tools = {
  list: () => get<T.List<T.ToolInfo>>("/api/tools"),
  runOnDocument: (id: string, tool: string, input: Record<string, unknown>) =>
    call<T.ToolRun | T.Job>("POST", `/api/documents/${enc(id)}/tools/${enc(tool)}`, {
      json: Object.keys(input).length ? { input } : {},
    }),
};

export const admin = {
  keys: () => get<T.List<T.KeyInfo>>("/api/keys"),
  createKey: (body: { tenant: string; name: string; role: T.Role; scopes?: T.Scope[] }) =>
    post<T.NewKey>("/api/keys", body),
  revokeKey: (id: string) => del(`/api/keys/${enc(id)}`),
  users: () => get<T.List<T.UserInfo>>("/api/users"),
  register: (body: { email: string; password: string; role: T.Role }) => post<T.UserInfo>("/api/auth/register", body),
  updateUser: (id: string, body: { role?: T.Role; password?: string }) => patch<T.UserInfo>(`/api/users/${enc(id)}`, body),
  deleteUser: (id: string) => del(`/api/users/${enc(id)}`),
  settings: () => get<T.Settings>("/api/settings"),
  saveSettings: (s: T.Settings) => put<T.Settings>("/api/settings", s),
  audit: (before?: number) => get<{ data: T.AuditEntry[]; next_before: number | null }>(
    `/api/admin/audit${query({ limit: 50, before })}`,
  ),
  usage: (from?: string, to?: string) => get<T.UsageReport>(`/api/usage${query({ from, to })}`),
};

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
