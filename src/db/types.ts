import type { SQL } from "drizzle-orm";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import type * as schema from "./sqlite-schema.ts";

/** What a write statement answers, on either database. */
export interface RunResult {
  /** Rows the statement changed. */
  changes: number;
}

/**
 * The control plane's database: SQLite by default, PostgreSQL with KILN_DATABASE_URL. Both are
 * spoken through drizzle's asynchronous SQLite API (`await query.get()/.all()/.run()`,
 * `await db.transaction(async (tx) => …)`); queries must keep to SQL both databases read the same.
 */
export type Db = BaseSQLiteDatabase<"async", RunResult, typeof schema>;
/** A transaction, usable wherever a Db is. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Runs a hand-written statement, answering rows as objects keyed by the select list's names. */
export type RawRunner = (query: SQL) => Promise<{ rows: Record<string, unknown>[]; changes: number }>;
