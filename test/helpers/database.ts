import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * The control-plane database of the tests. `npm test` (scripts/test.sh) runs the suite on SQLite,
 * then runs the integration and end-to-end tests again with KILN_TEST_DB=postgres and
 * KILN_TEST_PG_URL pointing at a throw-away PostgreSQL cluster it started (`ensure_postgres` in
 * scripts/lib.sh; superuser `postgres`, trust authentication). The cluster is deleted after the
 * run, so the databases made here need no dropping.
 */

let counter = 0;
const created: string[] = [];

function serverUrl(): string {
  const url = process.env.KILN_TEST_PG_URL;
  if (!url) {
    throw new Error(
      "KILN_TEST_DB=postgres but KILN_TEST_PG_URL is not set: run the tests through npm test / " +
        "scripts/test.sh, which start PostgreSQL and set it (or set KILN_TEST_PG_URL=postgres://user@host:port/postgres)",
    );
  }
  return url;
}

async function withServer<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = serverUrl();
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to the tests' PostgreSQL at KILN_TEST_PG_URL=${url}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Undefined unless KILN_TEST_DB=postgres (the tests then use SQLite); otherwise a fresh, empty
 * database on the server at KILN_TEST_PG_URL (`kiln_t_<pid>_<counter>_<random>`, copied from
 * template1: about 15 ms) and its URL, for one Kiln instance.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  if (process.env.KILN_TEST_DB !== "postgres") return undefined;
  const name = `kiln_t_${process.pid}_${++counter}_${randomBytes(4).toString("hex")}`;
  await withServer((client) => client.query(`CREATE DATABASE "${name}"`));
  created.push(name);
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** The environment that points a spawned Kiln process at `url` ({} for SQLite: no URL). */
export function databaseEnv(url?: string): Record<string, string> {
  return url ? { KILN_DATABASE_URL: url } : {};
}

/**
 * Drops the databases this process made with testDatabaseUrl (closing their connections). Optional:
 * scripts/test.sh deletes the whole cluster after the run; this only gives the disk space back
 * sooner (about 7 MB a database). Call it only once no Kiln instance uses them.
 */
export async function dropTestDatabases(): Promise<void> {
  if (created.length === 0) return;
  const names = created.splice(0);
  await withServer(async (client) => {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

/** A value as a PostgreSQL literal, for the hand-written statements below (test data only). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** `?` placeholders filled with literals, in order. */
function filled(statement: string, params: unknown[]): string {
  let i = 0;
  return statement.replace(/\?/g, () => literal(params[i++]));
}

/**
 * Reads or writes a Kiln's database synchronously, whichever it is, from outside the Kiln process
 * (which may be down): better-sqlite3 on `file`, or `psql` on `url`. A select answers its rows as
 * objects; name camel-case aliases in double quotes (PostgreSQL folds bare names to lower case).
 */
export function queryKilnDatabase<T>(where: { url?: string; file: string }, statement: string, params: unknown[]): T[] {
  if (where.url) {
    const isSelect = /^\s*select\b/i.test(statement);
    const text = isSelect
      ? `select coalesce(json_agg(t), '[]') from (${filled(statement, params)}) t`
      : filled(statement, params);
    const out = execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", where.url, "-c", text], {
      encoding: "utf8",
    });
    return isSelect ? (JSON.parse(out) as T[]) : [];
  }
  const db = new Database(where.file, { fileMustExist: true });
  try {
    const prepared = db.prepare(statement);
    if (prepared.reader) return prepared.all(...params) as T[];
    prepared.run(...params);
    return [];
  } finally {
    db.close();
  }
}
