import type { SQL } from "drizzle-orm";
import { join } from "node:path";
import { migrationsDir } from "./migrations-dir.ts";
import { seedSystemPolicies } from "./seed.ts";
import { useTables } from "./schema.ts";
import * as sqliteSchema from "./sqlite-schema.ts";
import { openSqlite } from "./sqlite.ts";
import type { Db, RawRunner } from "./types.ts";

export type { Db, RawRunner, RunResult, Tx } from "./types.ts";

/** The database's file in the data dir, when the database is SQLite. */
export const DATABASE_FILE = "kiln.db";

const closers = new WeakMap<object, () => Promise<void>>();
const rawRunners = new WeakMap<object, RawRunner>();

/**
 * Opens the control plane's database, applies pending migrations and seeds the system policies:
 * PostgreSQL when `url` is given, else `kiln.db` (or `file`) in the data dir.
 */
export async function openDatabase(
  dataDir: string,
  options: { url?: string; file?: string; pool?: number } = {},
): Promise<Db> {
  let db: Db;
  if (options.url) {
    const { openPostgres } = await import("./postgres.ts");
    const opened = await openPostgres(options.url, options.pool);
    db = opened.db;
    closers.set(db, opened.close);
    rawRunners.set(db, opened.raw);
  } else {
    useTables(sqliteSchema);
    const opened = openSqlite(join(dataDir, options.file ?? DATABASE_FILE), migrationsDir());
    db = opened.db;
    closers.set(db, async () => opened.close());
    rawRunners.set(db, opened.raw);
  }
  await seedSystemPolicies(db);
  return db;
}

/** Closes what openDatabase opened (the SQLite file, or the PostgreSQL pool). */
export async function closeDatabase(db: Db): Promise<void> {
  await closers.get(db)?.();
  closers.delete(db);
}

function rawRunner(db: Db): RawRunner {
  const run = rawRunners.get(db);
  if (!run) throw new Error("a hand-written statement needs the database openDatabase answered (not a transaction)");
  return run;
}

/**
 * The rows of a hand-written query (drizzle's `sql` template), as objects. Write SQL both
 * databases read alike: `cast(count(*) as integer)`, no SQLite-only functions, booleans through
 * drizzle's columns rather than literal 0/1. Not inside a transaction.
 */
export async function rows<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  return (await rawRunner(db)(query)).rows as T[];
}

/** Runs a hand-written statement (see `rows`) and answers how many rows it changed. */
export async function execute(db: Db, query: SQL): Promise<number> {
  return (await rawRunner(db)(query)).changes;
}

/** True when a write failed on a UNIQUE constraint (a name already taken), on either database. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | null; e; e = e.cause as typeof e) {
    if (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY" || e.code === "23505")
      return true;
  }
  return false;
}
