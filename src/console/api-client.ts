import type { Context, Hono } from "hono";

/** The API's error body (DESIGN §6); AccessDenied adds the action, resource and decision. */
export interface ApiErrorBody {
  error: string;
  message: string;
  action?: string;
  resource?: string;
  decision?: string;
}

export type ApiResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; error: ApiErrorBody };

export interface ConsoleApi {
  get<T>(path: string): Promise<ApiResult<T>>;
  send<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
}

/**
 * The console reads through the API's own routes, in process, signed by the caller's session:
 * the same authentication, authorization and per-item filtering as any API client. Passing the
 * page's `env` keeps the caller's socket, so `acs:SourceIp` conditions see the real address.
 */
export function consoleApi(app: Hono<any>, c: Context, token: string | undefined): ConsoleApi {
  async function send<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const agent = c.req.header("user-agent");
    if (agent) headers["user-agent"] = agent;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(
      new URL(path, c.req.url).href,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      c.env,
    );
    const data = (await res.json().catch(() => undefined)) as unknown;
    if (res.ok) return { ok: true, status: res.status, data: data as T };
    const error = (data ?? { error: "HttpError", message: `${res.status} ${res.statusText}` }) as ApiErrorBody;
    return { ok: false, status: res.status, error };
  }
  return { get: (path) => send("GET", path), send };
}
