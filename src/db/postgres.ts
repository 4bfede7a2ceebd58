import type { SQL } from "drizzle-orm";
import { drizzle, NodePgPreparedQuery } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { PgDatabase, PgDialect, PgPreparedQuery, PgSelectBase } from "drizzle-orm/pg-core";
import { QueryPromise } from "drizzle-orm/query-promise";
import pg from "pg";
import { migrationsDir } from "./migrations-dir.ts";
import type { Db, RawRunner } from "./types.ts";
import * as pgSchema from "./pg/schema.ts";
import { useTables } from "./schema.ts";

/** Any number they choose; the same in every Kiln process, so that only one migrates at a time. */
const MIGRATION_LOCK = 7_351_410_926;

/**
 * PostgreSQL (node-postgres) for the control plane, spoken through the same asynchronous API as
 * SQLite (`Db`): the tables the code imports are bound to PostgreSQL's, and PostgreSQL's queries
 * learn SQLite's `.get()/.all()/.run()`. Several Kiln processes may start at once: migrations run
 * under an advisory lock.
 */
export async function openPostgres(
  url: string,
  poolSize = 10,
): Promise<{ db: Db; raw: RawRunner; close: () => Promise<void> }> {
  teachSqliteVerbs();
  useTables(pgSchema);
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000 });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const db = drizzle(pool, { schema: pgSchema });
  const lock = await pool.connect();
  try {
    await lock.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await migrate(db, { migrationsFolder: migrationsDir("migrations-pg") });
  } finally {
    await lock.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    lock.release();
  }
  const dialect = new PgDialect();
  const raw: RawRunner = async (query: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(query);
    const result = await pool.query(text, params);
    return { rows: result.rows as Record<string, unknown>[], changes: result.rowCount ?? 0 };
  };
  return { db: db as unknown as Db, raw, close: () => pool.end() };
}

type Answer = unknown[] | { rows?: unknown[]; rowCount?: number | null };
const rowsOf = (answer: Answer): unknown[] => (Array.isArray(answer) ? answer : (answer.rows ?? []));
const changesOf = (answer: Answer): number =>
  Array.isArray(answer) ? answer.length : (answer.rowCount ?? answer.rows?.length ?? 0);

let taught = false;
/**
 * SQLite's drizzle queries end in `.get()` (the first row), `.all()` (the rows) or `.run()` (what
 * changed); PostgreSQL's are awaited or `.execute()`d. The same verbs are added to PostgreSQL's
 * query builders, prepared queries and database (for `sql` templates), answering the same shapes.
 */
function teachSqliteVerbs(): void {
  if (taught) return;
  taught = true;
  type Executable = { execute(placeholders?: Record<string, unknown>): Promise<Answer> };
  const verbs = {
    async get(this: Executable, placeholders?: Record<string, unknown>) {
      return rowsOf(await this.execute(placeholders))[0];
    },
    async all(this: Executable, placeholders?: Record<string, unknown>) {
      return rowsOf(await this.execute(placeholders));
    },
    async run(this: Executable, placeholders?: Record<string, unknown>) {
      return { changes: changesOf(await this.execute(placeholders)) };
    },
  };
  // Insert, update and delete extend QueryPromise; select copies its methods in when loaded;
  // node-postgres's prepared query has an `all` of its own (unmapped rows), replaced here.
  for (const proto of [
    QueryPromise.prototype,
    PgSelectBase.prototype,
    PgPreparedQuery.prototype,
    NodePgPreparedQuery.prototype,
  ])
    Object.assign(proto, verbs);
  type Database = { execute(query: SQL): Promise<Answer> };
  Object.assign(PgDatabase.prototype, {
    async get(this: Database, query: SQL) {
      return rowsOf(await this.execute(query))[0];
    },
    async all(this: Database, query: SQL) {
      return rowsOf(await this.execute(query));
    },
    async run(this: Database, query: SQL) {
      return { changes: changesOf(await this.execute(query)) };
    },
  });
}
