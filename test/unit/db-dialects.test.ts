// The PostgreSQL schema (src/db/pg/) mirrors the SQLite one (src/db/sqlite-schema.ts): the code is
// typed by the SQLite tables and runs against the PostgreSQL ones, so both must have the same tables,
// columns, keys and indexes, and every column must answer the same JS value. Each committed
// migrations folder must also be up to date with its schema (what `drizzle-kit generate` would say,
// asked in process through drizzle-kit/api: no subprocess, nothing written).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateDrizzleJson,
  generateMigration,
  generateSQLiteDrizzleJson,
  generateSQLiteMigration,
} from "drizzle-kit/api";
import {
  getTableColumns,
  getTableName,
  is,
  SQL,
  type InferInsertModel,
  type InferSelectModel,
  type Table,
} from "drizzle-orm";
import { getTableConfig as pgConfig, PgDialect, PgTable, type PgColumn } from "drizzle-orm/pg-core";
import {
  getTableConfig as sqliteConfig,
  SQLiteSyncDialect,
  SQLiteTable,
  type SQLiteColumn,
} from "drizzle-orm/sqlite-core";
import { describe, expect, expectTypeOf, it } from "vitest";
import * as pg from "../../src/db/pg/schema.ts";
import * as sqlite from "../../src/db/sqlite-schema.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The export names that are tables, on one side. */
const tableNames = (mod: Record<string, unknown>, kind: typeof SQLiteTable | typeof PgTable) =>
  Object.keys(mod)
    .filter((k) => is(mod[k], kind))
    .sort();

const sqliteTables = sqlite as unknown as Record<string, SQLiteTable>;
const pgTables = pg as unknown as Record<string, PgTable>;
const TABLES = tableNames(sqliteTables, SQLiteTable);

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();
const sqliteSql = (s: SQL) => sqliteDialect.sqlToQuery(s).sql;
const pgSql = (s: SQL) => pgDialect.sqlToQuery(s).sql;

/** SQL defaults of the SQLite schema and their PostgreSQL twins (the same value, in PostgreSQL's SQL). */
const SQL_DEFAULTS: Record<string, string> = {
  "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))": `to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
};

/** Integer columns that can pass 2^31 (bytes, sizes, milliseconds): bigint({ mode: "number" }) on PostgreSQL. */
const isWide = (column: string) => /(^|_)(size|bytes)$|_ms$/.test(column);

/** What a SQLite column must be on PostgreSQL; undefined when it is right, else why not. */
function typeMismatch(s: SQLiteColumn, p: PgColumn): string | undefined {
  const want = (...types: string[]) =>
    types.includes(p.columnType) ? undefined : `${s.columnType} wants ${types.join(" or ")}, got ${p.columnType}`;
  switch (s.columnType) {
    case "SQLiteText":
      return want("PgText");
    case "SQLiteBoolean":
      return want("PgBoolean");
    case "SQLiteReal":
      return want("PgDoublePrecision");
    case "SQLiteBlobBuffer":
      return want("PgBytea");
    case "SQLiteInteger":
      return isWide(s.name) ? want("PgBigInt53") : want("PgInteger");
    case "SQLiteTextJson": {
      // pg/tables/columns.ts's jsonText: TEXT holding JSON.stringify, answered JSON.parse'd.
      if (p.columnType !== "PgCustomColumn" || p.getSQLType() !== "text")
        return `json text wants jsonText (text custom type), got ${p.columnType} ${p.getSQLType()}`;
      const value = { a: [1, "x", null], b: true };
      const stored = p.mapToDriverValue(value);
      if (stored !== JSON.stringify(value)) return `json text stores ${String(stored)}, not JSON.stringify`;
      if (JSON.stringify(p.mapFromDriverValue(stored)) !== stored) return "json text does not JSON.parse what it reads";
      return undefined;
    }
    default:
      return `no PostgreSQL mapping for ${s.columnType}: add one to pg/tables/columns.ts and this test`;
  }
}

/** A column's default as comparable text: literals as JSON, SQL as its PostgreSQL text. */
function defaultOf(s: SQLiteColumn): string | undefined {
  if (s.default === undefined) return undefined;
  if (is(s.default, SQL)) {
    const text = sqliteSql(s.default);
    return SQL_DEFAULTS[text] ?? `no PostgreSQL twin for the SQLite default ${text}: add it to SQL_DEFAULTS`;
  }
  // A json column's default is SQL on PostgreSQL (drizzle-kit cannot write a custom type's literal).
  if (s.columnType === "SQLiteTextJson") return `'${JSON.stringify(s.default)}'`;
  return JSON.stringify(s.default);
}
const pgDefaultOf = (p: PgColumn): string | undefined =>
  p.default === undefined ? undefined : is(p.default, SQL) ? pgSql(p.default) : JSON.stringify(p.default);

/** Everything of a column the two dialects must agree on, in one comparable record. */
function describeSqliteColumn(key: string, c: SQLiteColumn) {
  return {
    key,
    name: c.name,
    notNull: c.notNull,
    primary: c.primary,
    // An INTEGER PRIMARY KEY numbers its rows (a rowid alias), with AUTOINCREMENT or without.
    generated: c.primary && c.columnType === "SQLiteInteger",
    hasDefault: c.hasDefault,
    default: defaultOf(c),
    defaultFn: typeof c.defaultFn?.(),
    onUpdateFn: typeof c.onUpdateFn?.(),
    enum: c.enumValues ?? null,
    unique: c.isUnique ? c.uniqueName : null,
  };
}
function describePgColumn(key: string, c: PgColumn) {
  const identity = (c as unknown as { generatedIdentity?: { type: string } }).generatedIdentity;
  return {
    key,
    name: c.name,
    notNull: c.notNull,
    primary: c.primary,
    // Autoincrement ids are identities BY DEFAULT, so that the data migration can insert the old ids.
    generated: c.primary && identity?.type === "byDefault",
    hasDefault: c.hasDefault,
    default: pgDefaultOf(c),
    defaultFn: typeof c.defaultFn?.(),
    onUpdateFn: typeof c.onUpdateFn?.(),
    enum: c.enumValues ?? null,
    unique: c.isUnique ? c.uniqueName : null,
  };
}

const columnNames = (columns: readonly unknown[]) => columns.map((c) => (c as { name: string }).name);

/** What either dialect's getTableConfig answers about a table's keys and indexes, as far as compared. */
interface TableConfig {
  name: string;
  indexes: { config: { name?: string; columns: readonly unknown[]; unique: boolean; where?: SQL } }[];
  foreignKeys: {
    onDelete?: string;
    onUpdate?: string;
    reference(): { columns: readonly unknown[]; foreignTable: Table; foreignColumns: readonly unknown[] };
  }[];
  uniqueConstraints: { getName(): string | undefined; columns: readonly unknown[] }[];
  primaryKeys: { columns: readonly unknown[] }[];
}

/** A table's keys and indexes; a partial index's WHERE in its own dialect's SQL (`whereSql`). */
function describeTable(c: TableConfig, whereSql: (where: SQL) => string) {
  return {
    name: c.name,
    indexes: c.indexes
      .map((i) => ({
        name: i.config.name ?? "(unnamed)",
        columns: columnNames(i.config.columns),
        unique: i.config.unique,
        partial: i.config.where ? whereSql(i.config.where) : null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    foreignKeys: c.foreignKeys
      .map((fk) => {
        const r = fk.reference();
        return {
          columns: columnNames(r.columns),
          table: getTableName(r.foreignTable),
          foreignColumns: columnNames(r.foreignColumns),
          onDelete: fk.onDelete ?? "no action",
          onUpdate: fk.onUpdate ?? "no action",
        };
      })
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    uniqueConstraints: c.uniqueConstraints.map((u) => ({ name: u.getName(), columns: columnNames(u.columns) })),
    primaryKeys: c.primaryKeys.map((pk) => columnNames(pk.columns)),
  };
}
const describeSqliteTable = (t: SQLiteTable) => describeTable(sqliteConfig(t) as unknown as TableConfig, sqliteSql);
const describePgTable = (t: PgTable) => describeTable(pgConfig(t) as unknown as TableConfig, pgSql);

describe("the PostgreSQL schema mirrors the SQLite one", () => {
  it("has the same exports and the same tables", () => {
    expect(TABLES.length).toBeGreaterThan(20);
    expect(Object.keys(pg).sort(), "export names of src/db/pg/schema.ts").toEqual(Object.keys(sqlite).sort());
    expect(tableNames(pgTables, PgTable), "tables of src/db/pg/schema.ts").toEqual(TABLES);
  });

  it.each(TABLES)("%s: same columns, each answering the same JS values", (name) => {
    const s = getTableColumns(sqliteTables[name]!);
    const p = getTableColumns(pgTables[name]!) as Record<string, PgColumn>;
    expect(Object.keys(p), `${name}: TS keys of the columns`).toEqual(Object.keys(s));
    for (const [key, column] of Object.entries(s)) {
      const twin = p[key];
      expect(twin, `${name}.${key}: no PostgreSQL column`).toBeDefined();
      const where = `${name}.${key} (${column.name})`;
      expect(describePgColumn(key, twin!), where).toEqual(describeSqliteColumn(key, column));
      const mismatch = typeMismatch(column, twin!);
      expect(mismatch === undefined, `${where}: column type: ${mismatch}`).toBe(true);
    }
  });

  it.each(TABLES)("%s: same SQL name, indexes, foreign keys, unique constraints and primary keys", (name) => {
    const s = describeSqliteTable(sqliteTables[name]!);
    const p = describePgTable(pgTables[name]!);
    expect(p.name, `${name}: SQL table name`).toBe(s.name);
    // Partial WHEREs differ by dialect: pair them (both or neither), then compare the rest.
    expect(
      p.indexes.map((i) => [i.name, i.partial !== null]),
      `${name}: indexes with a WHERE`,
    ).toEqual(s.indexes.map((i) => [i.name, i.partial !== null]));
    const plain = <T extends { partial: unknown }>(list: T[]) => list.map(({ partial: _, ...rest }) => rest);
    expect(plain(p.indexes), `${name}: indexes`).toEqual(plain(s.indexes));
    expect(p.foreignKeys, `${name}: foreign keys`).toEqual(s.foreignKeys);
    expect(p.uniqueConstraints, `${name}: unique constraints`).toEqual(s.uniqueConstraints);
    expect(p.primaryKeys, `${name}: composite primary keys`).toEqual(s.primaryKeys);
  });

  it("gives the code the same row types (checked by tsc)", () => {
    type Rows<S> = { [K in keyof S]: S[K] extends Table ? InferSelectModel<S[K]> : never };
    type Inserts<S> = { [K in keyof S]: S[K] extends Table ? InferInsertModel<S[K]> : never };
    expectTypeOf<Rows<typeof pg>>().toEqualTypeOf<Rows<typeof sqlite>>();
    expectTypeOf<Inserts<typeof pg>>().toEqualTypeOf<Inserts<typeof sqlite>>();
  });
});

/** The newest snapshot a migrations folder's journal lists. */
function latestSnapshot(folder: string): unknown {
  const journal = JSON.parse(readFileSync(join(root, folder, "meta", "_journal.json"), "utf8")) as {
    entries: { idx: number; tag: string }[];
  };
  const last = journal.entries.at(-1);
  if (!last) throw new Error(`${folder}: the journal lists no migration`);
  for (const entry of journal.entries) readFileSync(join(root, folder, `${entry.tag}.sql`)); // each listed file exists
  const prefix = last.tag.split("_")[0]!;
  return JSON.parse(readFileSync(join(root, folder, "meta", `${prefix}_snapshot.json`), "utf8"));
}

describe("the committed migrations are up to date with their schema", () => {
  it("migrations/ (SQLite): drizzle-kit generate would write nothing", async () => {
    const current = await generateSQLiteDrizzleJson(sqlite as unknown as Record<string, unknown>);
    const pending = await generateSQLiteMigration(latestSnapshot("migrations") as typeof current, current);
    expect(pending, "run `npm run db:generate`: the schema changed since the last migration").toEqual([]);
  });

  it("migrations-pg/ (PostgreSQL): drizzle-kit generate would write nothing", async () => {
    const current = generateDrizzleJson(pg as unknown as Record<string, unknown>);
    const pending = await generateMigration(latestSnapshot("migrations-pg") as typeof current, current);
    expect(pending, "run `npm run db:generate:pg`: the schema changed since the last migration").toEqual([]);
  });
});
