import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "../../src/server.ts";
import { loadConfig } from "../../src/config.ts";
import { databaseEnv, testDatabaseUrl } from "./database.ts";
import { createDeps } from "../../src/deps.ts";
import { createLogger, type Logger } from "../../src/logger.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

export interface Call {
  token?: string;
  body?: unknown;
  /** Sent as is, instead of JSON.stringify(body). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** Status, headers and the body as JSON (or text when it is not JSON). */
export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * A real Kiln API (SQLite in a fresh temp dir, or a fresh PostgreSQL database with KILN_TEST_DB=postgres) answering in-process requests. `options.log`: the
 * service logger (`captureLogs().log`, to search what Kiln logged); silent by default.
 */
export async function startTestApp(env: Record<string, string> = {}, options: { queue?: boolean; log?: Logger } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-test-"));
  const databaseUrl = await testDatabaseUrl();
  const config = loadConfig({
    KILN_DATA_DIR: dataDir,
    ...databaseEnv(databaseUrl),
    KILN_REGIONS: "cn-hongkong=127.0.0.1:5000,cn-beijing=127.0.0.1:5001",
    KILN_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: "silent",
    ...env,
  });
  const deps = await createDeps(config, options.log ?? createLogger(process.env.KILN_TEST_LOG ?? "silent"), {
    queue: options.queue,
  });
  const app = createServer(deps);

  async function call(method: string, path: string, opts: Call = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined = opts.raw;
    if (opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined) headers["content-type"] ??= "application/json";
    return answerOf(await app.request(path, { method, headers, body: payload }));
  }

  /** A new main account; returns its root token. */
  async function account(alias: string): Promise<{ id: string; token: string }> {
    const res = await call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias } });
    if (res.status !== 201) throw new Error(`account ${alias}: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id, token: res.body.rootToken };
  }

  /** A sub-account with the given policy documents attached; returns an access-key token. */
  async function user(root: string, name: string, ...documents: unknown[]): Promise<string> {
    const created = await call("POST", "/api/v1/users", { token: root, body: { name } });
    if (created.status !== 201) throw new Error(`user ${name}: ${created.status} ${JSON.stringify(created.body)}`);
    for (const [i, document] of documents.entries()) await attach(root, name, `${name}-p${i}`, document);
    const key = await call("POST", `/api/v1/users/${name}/access-keys`, { token: root });
    return key.body.token;
  }

  async function attach(root: string, userName: string, policyName: string, document: unknown): Promise<void> {
    const p = await call("POST", "/api/v1/policies", { token: root, body: { name: policyName, document } });
    if (p.status !== 201) throw new Error(`policy ${policyName}: ${p.status} ${JSON.stringify(p.body)}`);
    const a = await call("POST", `/api/v1/users/${userName}/policies`, { token: root, body: { policyName } });
    if (a.status !== 200) throw new Error(`attach ${policyName}: ${a.status} ${JSON.stringify(a.body)}`);
  }

  async function close(): Promise<void> {
    await deps.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  return { app, deps, call, account, user, attach, close, dataDir };
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>;
