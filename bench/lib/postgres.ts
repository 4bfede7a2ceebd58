import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./kiln-process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Runs a function of scripts/lib.sh in bash; its stdout is returned, its log shown only when it fails. */
function libSh(script: string, env: Record<string, string>): string {
  const run = spawnSync("bash", ["-c", `source scripts/lib.sh; ${script}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`scripts/lib.sh: ${script} failed:\n${run.stderr}${run.stdout}`);
  return run.stdout.trim();
}

/**
 * A throw-away PostgreSQL cluster as scripts/lib.sh's ensure_postgres makes for the tests (fsync
 * off: a test cluster), in a temporary directory of its own on a free port (BENCH_PG_PORT to
 * choose one), so that it never meets a cluster already running. stop() shuts it down and deletes
 * its files. Needs the PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin, or
 * KILN_PG_BINDIR); as root the server runs as the `postgres` user.
 */
export async function startPostgres() {
  const state = mkdtempSync(join(tmpdir(), "kiln-bench-pg-"));
  const port = process.env.BENCH_PG_PORT ?? String(await freePort());
  const env = { KILN_TEST_PG_PORT: port, STATE: state };
  let url: string;
  try {
    url = libSh('ensure_postgres "$STATE" && echo "$KILN_TEST_PG_URL"', env).split("\n").pop()!;
  } catch (err) {
    rmSync(state, { recursive: true, force: true });
    throw err;
  }
  const made: string[] = [];

  async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** A fresh, empty database of the cluster; its URL. */
  async function createDatabase(name: string): Promise<string> {
    await admin((c) => c.query(`create database "${name}"`));
    made.push(name);
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
  }

  async function stop(): Promise<void> {
    try {
      libSh('stop_postgres "$STATE"', env);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }

  return { url, port: Number(port), createDatabase, stop };
}

export type BenchPostgres = Awaited<ReturnType<typeof startPostgres>>;
