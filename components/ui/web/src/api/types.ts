// The shapes of Lode's API answers the app reads (README, "API").

export type Role = "viewer" | "editor" | "admin";
export type Scope = "documents:read" | "documents:write" | "search" | "chat" | "tools" | "admin";

export interface Whoami {
  tenant: string;
  role: Role;
  scopes: Scope[];
  credential: "bootstrap" | "key" | "user";
  id: string | null;
}

export interface UserInfo {
  id: string;
  tenant: string;
  email: string;
  role: Role;
  scopes: Scope[];
  created_at: string;
}

export interface LoginAnswer {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: UserInfo;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface List<T> {
  data: T[];
}

export interface Document {
  id: string;
  title: string;
  content_type: string;
  metadata: Record<string, unknown>;
  version: number;
  content_sha256: string;
  size_bytes: number;
  created_at: string;
  updated_at: string;
  content?: string;
}

export interface VersionInfo {
  version: number;
  title: string;
  content_type: string;
  content_sha256: string;
  size_bytes: number;
  created_at: string;
}

export interface Chunk {
  id: number;
  document_id: string;
  ordinal: number;
  text: string;
  heading_path: string[];
  pages: [number, number] | null;
  chars: [number, number];
  token_count: number;
}

export type JobStatus = "queued" | "processing" | "completed" | "failed" | "dead";

export interface Job {
  job_id: string;
  batch_id: string;
  kind: "ingest" | "tool";
  tool?: string;
  status: JobStatus;
  priority: string;
  step: string | null;
  progress: number;
  attempts: number;
  max_attempts: number;
  error: string | null;
  filename: string | null;
  document_id: string | null;
  result?: { result?: unknown } & Record<string, unknown>;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
}

export interface JobEvent {
  seq: number;
  status: JobStatus;
  step: string | null;
  progress: number;
  message: string | null;
  at: number;
}

export interface Queued {
  batch_id: string;
  jobs: { job_id: string; filename: string | null }[];
}

export type SearchMode = "hybrid" | "vector" | "fulltext";

export interface SearchHit {
  chunk_id: number;
  document_id: string;
  title: string;
  text: string;
  snippet: string;
  heading_path: string[];
  pages: [number, number] | null;
  ordinal: number;
  score: number;
}

export interface SearchAnswer {
  query: string;
  mode: SearchMode;
  k: number;
  model: string;
  data: SearchHit[];
}

export interface Citation {
  n: number;
  chunk_id: number;
  document_id: string;
  title: string;
  pages: [number, number] | null;
  quote: string;
}

export interface Source {
  n: number;
  chunk_id: number;
  document_id: string;
  title: string;
  pages: [number, number] | null;
  heading_path: string[];
  text: string;
  score: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export interface ChatAnswer {
  answer: string;
  citations: Citation[];
  invalid_citations: number[];
  grounded: boolean;
  conversation_id: string;
  query: string;
  rewritten: boolean;
  model: string | null;
  provider: string | null;
  usage: Usage | null;
  cost_usd: number | null;
  sources: Source[];
}

export interface Conversation {
  id: string;
  title: string;
  message_count: number;
  created_at: string;
  updated_at: string;
}

export interface Turn {
  seq: number;
  role: "user" | "assistant";
  content: string;
  created_at: string;
  citations?: Citation[];
  invalid_citations?: number[];
  grounded?: boolean;
  model?: string | null;
  provider?: string | null;
  usage?: Usage | null;
  cost_usd?: number | null;
}

export interface Model {
  id: string;
  object: "model";
  owned_by: string;
}

export interface ToolInfo {
  name: string;
  description: string;
  input_schema: unknown;
  output_schema: unknown;
}

export interface ToolRun {
  tool: string;
  result: Record<string, unknown>;
  model: string | null;
  provider: string | null;
  llm_calls: number;
  parts: number;
  truncated: boolean;
  usage: Usage | null;
  cost_usd: number | null;
  cached?: boolean;
}

export interface KeyInfo {
  id: string;
  tenant: string;
  name: string;
  role: Role;
  scopes: Scope[];
  created_at: string;
}

export interface NewKey extends KeyInfo {
  key: string;
}

export interface Settings {
  chunking: { target_tokens: number; overlap: number };
  rate_limits: Record<string, number>;
  quotas: Record<string, number>;
  updated_at?: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

export interface UsageDay {
  day: string;
  provider: string;
  model: string;
  requests: number;
  failures: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface Allowance {
  limit: number;
  used: number;
  remaining: number;
}

export interface UsageReport {
  from: string;
  to: string;
  requests: number;
  failures: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  data: UsageDay[];
  quotas: Record<string, Allowance | string>;
}
