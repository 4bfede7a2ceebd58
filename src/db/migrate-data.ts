/**
 * `kiln migrate-data`: copies a Kiln installation's SQLite database into a PostgreSQL database.
 * It speaks to both databases at once, so it imports the two schema modules itself (not
 * ./schema.ts's bound names): every row is read through the SQLite table's columns and written
 * through its PostgreSQL twin's, so each value maps through both dialects' column types (JSON
 * text, booleans, bigints).
 *
 * The source is read in one read transaction on a read-only connection: in WAL mode that is a
 * consistent snapshot, and a running Kiln keeps writing meanwhile (its later writes are not copied).
 * The target is migrated first, then everything is written in ONE PostgreSQL transaction: a failure
 * leaves the target as it was.
 */
import Database from "better-sqlite3";
import { and, asc, count, eq, getTableColumns, gt, is, isNotNull, or, sql, type Column, type SQL } from "drizzle-orm";
import { drizzle as drizzleSqlite, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { getTableConfig as pgTableConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { migrationsDir } from "./migrations-dir.ts";
import * as pgSchema from "./pg/schema.ts";
import * as sqliteSchema from "./sqlite-schema.ts";

export class MigrateDataError extends Error {
  override readonly name = "MigrateDataError";
}

/** Rows written per INSERT (fewer for wide tables: PostgreSQL takes at most 65535 parameters a statement). */
const BATCH_ROWS = 500;
const MAX_PARAMETERS = 30_000;

/** A URL as it may be shown: no password (nor user) before the host. */
export function redactUrl(text: string): string {
  return text.replace(/\/\/[^\s/@]*@/g, "//***@");
}

/** One table of the schema, on both sides. */
interface TablePair {
  /** The SQL name. */
  name: string;
  sqlite: SQLiteTable;
  pg: PgTable;
}

/**
 * Every table of the schema, parents before children (from the tables' foreign keys). Throws on
 * a foreign-key cycle, and when the two schemas do not hold the same tables.
 */
export function tablesInCopyOrder(): TablePair[] {
  const pairs = new Map<string, TablePair>();
  for (const [key, value] of Object.entries(sqliteSchema)) {
    if (!is(value, SQLiteTable)) continue;
    const twin = (pgSchema as Record<string, unknown>)[key];
    const name = sqliteTableConfig(value).name;
    if (!is(twin, PgTable) || pgTableConfig(twin).name !== name)
      throw new MigrateDataError(
        `table ${name} (${key}) has no PostgreSQL twin of the same name in src/db/pg/schema.ts`,
      );
    pairs.set(name, { name, sqlite: value, pg: twin });
  }
  const pgNames = Object.values(pgSchema).filter((v) => is(v, PgTable)).length;
  if (pgNames !== pairs.size)
    throw new MigrateDataError(`the PostgreSQL schema has ${pgNames} tables, the SQLite one ${pairs.size}`);

  // Kahn's algorithm; ties by name, so that the order (and the output) is the same every run.
  const parents = new Map<string, Set<string>>();
  for (const { name, sqlite } of pairs.values()) {
    const refs = new Set<string>();
    for (const fk of sqliteTableConfig(sqlite).foreignKeys)
      refs.add(sqliteTableConfig(fk.reference().foreignTable).name);
    parents.set(name, refs);
  }
  const order: TablePair[] = [];
  const done = new Set<string>();
  while (done.size < pairs.size) {
    const ready = [...pairs.keys()]
      .filter((name) => !done.has(name) && [...parents.get(name)!].every((p) => done.has(p)))
      .sort();
    if (ready.length === 0) {
      const left = [...pairs.keys()].filter((name) => !done.has(name)).sort();
      throw new MigrateDataError(
        `the tables' foreign keys make a cycle among ${left.join(", ")}: there is no order to copy them in`,
      );
    }
    for (const name of ready) {
      done.add(name);
      order.push(pairs.get(name)!);
    }
  }
  // iam_generation is bumped by triggers on policies, policy_attachments and group_members (see
  // migrations-pg/0001): copied after them, its row keeps the source's value. Nothing references it.
  const generation = pgTableConfig(pgSchema.iamGeneration).name;
  if ([...parents.values()].some((refs) => refs.has(generation)))
    throw new MigrateDataError(`${generation} is copied last, but a table references it`);
  const last = order.findIndex((t) => t.name === generation);
  order.push(...order.splice(last, 1));
  return order;
}

/** The primary-key columns of a SQLite table, in key order. */
function primaryKey(table: SQLiteTable): Column[] {
  const config = sqliteTableConfig(table);
  const single = config.columns.filter((c) => c.primary);
  const key = single.length > 0 ? single : (config.primaryKeys[0]?.columns ?? []);
  if (key.length === 0) throw new MigrateDataError(`table ${config.name} has no primary key to read it in order by`);
  return key;
}

/** The TS name (the key in a selected row) of each column. */
function keysOf(table: SQLiteTable, columns: Column[]): string[] {
  const all = Object.entries(getTableColumns(table));
  return columns.map((c) => all.find(([, column]) => column === c)![0]);
}

/** Rows after `last` in primary-key order: (a > x) or (a = x and b > y) … */
function after(key: Column[], last: unknown[]): SQL {
  return or(...key.map((column, i) => and(...key.slice(0, i).map((c, j) => eq(c, last[j])), gt(column, last[i]))))!;
}

/**
 * The source's rows of one table in batches, in primary-key order (keyset pagination: each batch
 * starts after the last key of the one before, so no batch re-reads the table).
 */
function* batchesOf(db: BetterSQLite3Database, table: SQLiteTable, size: number): Generator<Record<string, unknown>[]> {
  const key = primaryKey(table);
  const keys = keysOf(table, key);
  let last: unknown[] | undefined;
  for (;;) {
    const rows = db
      .select()
      .from(table)
      .where(last ? after(key, last) : undefined)
      .orderBy(...key.map((c) => asc(c)))
      .limit(size)
      .all() as Record<string, unknown>[];
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
    const end = rows[rows.length - 1]!;
    last = keys.map((k) => end[k]);
  }
}

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

/** Refuses a source that is not a Kiln database at the current SQLite schema version. */
function checkSourceVersion(source: Database.Database, file: string): void {
  const journal = JSON.parse(readFileSync(join(migrationsDir(), "meta", "_journal.json"), "utf8")) as Journal;
  const latest = journal.entries[journal.entries.length - 1]!;
  const hasTable = source
    .prepare("select 1 from sqlite_master where type = 'table' and name = '__drizzle_migrations'")
    .get();
  if (!hasTable) throw new MigrateDataError(`${file} is not a Kiln database (it has no __drizzle_migrations table)`);
  const applied = source.prepare("select count(*) as n, max(created_at) as last from __drizzle_migrations").get() as {
    n: number;
    last: number | null;
  };
  if (applied.n < journal.entries.length || Number(applied.last ?? 0) < latest.when)
    throw new MigrateDataError(
      `${file} is at an older schema version (${applied.n} of ${journal.entries.length} migrations applied): ` +
        `run Kiln once on it (or kiln account …) to migrate it, then copy it`,
    );
  if (Number(applied.last) > latest.when)
    throw new MigrateDataError(
      `${file} was migrated by a newer Kiln (a migration this Kiln does not know): copy it with that Kiln version`,
    );
}

/** What SQLite's AUTOINCREMENT tables have numbered so far (ids are never reused there). */
function sqliteSequences(source: Database.Database): Map<string, number> {
  const has = source.prepare("select 1 from sqlite_master where type = 'table' and name = 'sqlite_sequence'").get();
  if (!has) return new Map();
  const rows = source.prepare("select name, seq from sqlite_sequence").all() as { name: string; seq: number }[];
  return new Map(rows.map((r) => [r.name, Number(r.seq)]));
}

export interface MigrateDataOptions {
  /** The SQLite database file (the data dir's kiln.db). */
  from: string;
  /** The PostgreSQL URL (postgres:// or postgresql://). */
  to: string;
}

export interface CopiedTable {
  table: string;
  rows: number;
}

/**
 * Copies every table of the SQLite database `from` into the PostgreSQL database `to`: migrates the
 * target, refuses it unless it holds only what Kiln's migrations and seed put there (the
 * iam_generation row and the system policies, which the copy replaces), then copies the rows with
 * their ids in one transaction, checks the row counts, and sets each identity past the copied ids.
 *
 * Opening PostgreSQL through openPostgres binds this process's tables (./schema.ts) to PostgreSQL's:
 * call it from a process of its own (the CLI), not from one serving SQLite.
 */
export async function migrateData(options: MigrateDataOptions): Promise<CopiedTable[]> {
  const order = tablesInCopyOrder();
  if (!existsSync(options.from)) throw new MigrateDataError(`there is no database at ${options.from}`);
  let source: Database.Database;
  try {
    source = new Database(options.from, { readonly: true, fileMustExist: true });
    source.pragma("busy_timeout = 5000");
    checkSourceVersion(source, options.from);
  } catch (err) {
    if (err instanceof MigrateDataError) throw err;
    throw new MigrateDataError(`cannot read ${options.from} as SQLite: ${(err as Error).message}`);
  }
  const target = redactUrl(options.to);
  let closeTarget: (() => Promise<void>) | undefined;
  try {
    let pgDb: NodePgDatabase<typeof pgSchema>;
    try {
      const { openPostgres } = await import("./postgres.ts");
      const opened = await openPostgres(options.to, 2);
      closeTarget = opened.close;
      pgDb = opened.db as unknown as NodePgDatabase<typeof pgSchema>;
    } catch (err) {
      throw new MigrateDataError(`cannot open and migrate ${target}: ${redactUrl((err as Error).message)}`);
    }
    const sqliteDb = drizzleSqlite(source);
    // The snapshot: every read below sees the database as it was at the first one.
    source.exec("BEGIN");
    try {
      const sequences = sqliteSequences(source);
      return await pgDb.transaction(async (tx) => {
        await refuseUnlessFresh(tx, order, target);
        // The seed rows (Kiln writes them on start and on migration): replaced by the source's own.
        await tx.delete(pgSchema.policies).where(sql`${pgSchema.policies.accountId} is null`);
        await tx.delete(pgSchema.iamGeneration);

        const copied: CopiedTable[] = [];
        for (const table of order) {
          const columns = Object.keys(getTableColumns(table.sqlite)).length;
          const size = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMETERS / columns)));
          let rows = 0;
          for (const batch of batchesOf(sqliteDb, table.sqlite, size)) {
            await tx.insert(table.pg).values(batch as never);
            rows += batch.length;
          }
          const want = sqliteDb.select({ n: count() }).from(table.sqlite).get()!.n;
          const [got] = await tx.select({ n: count() }).from(table.pg);
          if (rows !== want || got!.n !== want)
            throw new MigrateDataError(
              `${table.name}: the source holds ${want} rows, ${rows} were copied and the target holds ${got!.n}`,
            );
          copied.push({ table: table.name, rows });
        }
        await resetIdentities(tx, order, sequences);
        return copied;
      });
    } finally {
      source.exec("COMMIT");
    }
  } catch (err) {
    if (err instanceof MigrateDataError) throw err;
    throw new MigrateDataError(`the copy failed, ${target} is unchanged: ${redactUrl((err as Error).message)}`);
  } finally {
    source.close();
    await closeTarget?.().catch(() => {});
  }
}

type PgTx = Parameters<Parameters<NodePgDatabase<typeof pgSchema>["transaction"]>[0]>[0];

/** Refuses a target with rows other than the iam_generation row and the system policies. */
async function refuseUnlessFresh(tx: PgTx, order: TablePair[], target: string): Promise<void> {
  const held: string[] = [];
  for (const { name, pg } of order) {
    if (pg === pgSchema.iamGeneration) continue;
    const where = pg === pgSchema.policies ? isNotNull(pgSchema.policies.accountId) : undefined;
    const [row] = await tx.select({ n: count() }).from(pg).where(where);
    if (row!.n > 0) held.push(`${name} (${row!.n})`);
  }
  if (held.length > 0)
    throw new MigrateDataError(
      `${target} already holds Kiln data: ${held.join(", ")}; nothing was copied. ` +
        `Copy into a new, empty database (one Kiln has not served)`,
    );
}

/**
 * Each identity column goes on after the copied ids (and after ids SQLite's AUTOINCREMENT
 * already handed out, as SQLite would never reuse them): the next row gets max + 1.
 */
async function resetIdentities(tx: PgTx, order: TablePair[], sequences: Map<string, number>): Promise<void> {
  for (const { name, pg } of order) {
    for (const column of pgTableConfig(pg).columns) {
      if (!column.generatedIdentity) continue;
      const used = sequences.get(name) ?? 0;
      await tx.execute(
        sql`select setval(pg_get_serial_sequence(${`"${name}"`}, ${column.name}),
          greatest(coalesce(max(${column}), 0), cast(${used} as bigint)) + 1, false) from ${pg}`,
      );
    }
  }
}
