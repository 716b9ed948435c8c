// The one HTTP client of the app: same-origin calls to Lode's public API,
// with the signed-in credential, errors decoded from Lode's JSON shape, and
// 429s retried after Retry-After with a visible notice.
import { session, signOut } from "../session";
import { notices } from "../notices";

/** An error answer of the API: `{"error":{"code","message"}}` and its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  /** A JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** A raw body (FormData, Blob) sent as is. */
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Skip the Authorization header (sign-in). */
  anonymous?: boolean;
}

const MAX_RATE_RETRIES = 3;
const MAX_RETRY_AFTER_S = 60;

/** Send a request; resolves to the Response when its status is 2xx. */
export async function send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  const current = session.get();
  if (!opts.anonymous && current) headers.Authorization = `Bearer ${current.token}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body, signal: opts.signal });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, "network", "Lode could not be reached. Check your connection and try again.");
    }
    if (response.ok) return response;
    const error = await decode(response);
    const wait = Number(response.headers.get("retry-after"));
    if (response.status === 429 && attempt < MAX_RATE_RETRIES && wait > 0 && wait <= MAX_RETRY_AFTER_S) {
      const id = notices.show(`${error.message} Retrying in ${wait} s…`, "warning");
      await sleep(wait * 1000, opts.signal);
      notices.dismiss(id);
      continue;
    }
    if (response.status === 401 && current && !opts.anonymous) {
      signOut(current.kind === "session" ? "Your session has expired. Sign in again." : "This API key is no longer valid.");
    }
    throw error;
  }
}

/** A JSON call: the parsed body, or `undefined` for 204. */
export async function call<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, opts);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>("GET", path, { signal });
export const post = <T>(path: string, json?: unknown) => call<T>("POST", path, { json });
export const put = <T>(path: string, json: unknown) => call<T>("PUT", path, { json });
export const patch = <T>(path: string, json: unknown) => call<T>("PATCH", path, { json });
export const del = (path: string) => call<void>("DELETE", path);

async function decode(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) {
      return new ApiError(response.status, body.error.code ?? "error", body.error.message);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, "http_" + response.status, `Lode answered ${response.status} ${response.statusText}.`);
}

/** Wait `ms`; rejects with AbortError when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });
}

/** A query string from defined values (`undefined` and "" are left out). */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The words to show for an error of any kind. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
