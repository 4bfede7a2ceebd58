import Database from "better-sqlite3";
import { drizzle as drizzleSync } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { drizzle } from "drizzle-orm/sqlite-proxy";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Db, RawRunner } from "./types.ts";
import * as schema from "./sqlite-schema.ts";

const dialect = new SQLiteAsyncDialect();
type Method = "run" | "all" | "values" | "get";

/**
 * SQLite (better-sqlite3) behind drizzle's asynchronous SQLite driver, so that the control plane
 * speaks one asynchronous API whether its database is this file or PostgreSQL. Opens (creating if
 * needed) the file in WAL mode and applies pending migrations.
 */
export function openSqlite(file: string, migrationsFolder: string): { db: Db; raw: RawRunner; close: () => void } {
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  migrate(drizzleSync(sqlite), { migrationsFolder });
  const statement = statementCache(sqlite);
  const gate = new TransactionGate();
  const execute = (source: string, params: unknown[], method: Method) => {
    const compiled = statement(source);
    if (method === "run" || !compiled.reader) {
      const result = compiled.run(...params);
      return { rows: [], changes: result.changes };
    }
    return { rows: method === "get" ? compiled.get(...params) : compiled.all(...params) };
  };
  const db = drizzle(
    async (source, params, method) => {
      while (gate.busy) await gate.free();
      return execute(source, params, method) as { rows: unknown[] };
    },
    { schema },
  ) as unknown as Db;
  // One transaction runs at a time, so one database object serves them all: its statements skip
  // the gate (they are the transaction's), and its prepared queries are made once.
  const inTransaction = drizzle(
    async (source, params, method) => execute(source, params, method) as { rows: unknown[] },
    {
      schema,
    },
  ) as unknown as Db;
  let savepoints = 0;
  inTransaction.transaction = (async (fn: (tx: Db) => Promise<unknown>) => {
    const name = `sp${++savepoints}`;
    execute(`savepoint ${name}`, [], "run");
    try {
      const result = await fn(inTransaction);
      execute(`release ${name}`, [], "run");
      return result;
    } catch (err) {
      execute(`rollback to ${name}`, [], "run");
      execute(`release ${name}`, [], "run");
      throw err;
    } finally {
      savepoints--;
    }
  }) as Db["transaction"];
  db.transaction = ((fn: (tx: Db) => Promise<unknown>, config?: { behavior?: string }) =>
    gate.exclusive(async () => {
      execute(`begin${config?.behavior ? ` ${config.behavior}` : ""}`, [], "run");
      try {
        const result = await fn(inTransaction);
        execute("commit", [], "run");
        return result;
      } catch (err) {
        execute("rollback", [], "run");
        throw err;
      }
    })) as Db["transaction"];
  const raw: RawRunner = async (query) => {
    const { sql: source, params } = dialect.sqlToQuery(query);
    while (gate.busy) await gate.free();
    const compiled = statement(source);
    if (!compiled.reader) return { rows: [], changes: compiled.run(...params).changes };
    try {
      return { rows: compiled.raw(false).all(...params) as Record<string, unknown>[], changes: 0 };
    } finally {
      compiled.raw(true);
    }
  };
  return { db, raw, close: () => sqlite.close() };
}

/**
 * One connection serves every caller, and an open transaction must not take in another caller's
 * statements (they would commit or roll back with it) nor a second BEGIN. A transaction runs
 * alone: the others' statements and transactions wait until it ends.
 */
class TransactionGate {
  busy = false;
  private waiting: (() => void)[] = [];

  free(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.busy) await this.free();
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
      const waiting = this.waiting;
      this.waiting = [];
      for (const wake of waiting) wake();
    }
  }
}

/**
 * Compiling a statement cost more than SQLite running it on the webhook and token paths, so
 * compiled statements are kept by SQL text. Every read answers rows as arrays, as drizzle's
 * asynchronous driver expects.
 */
function statementCache(sqlite: Database.Database, limit = 1000): (source: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (source) => {
    let compiled = cache.get(source);
    if (compiled) return compiled;
    compiled = sqlite.prepare(source);
    if (compiled.reader) compiled.raw(true);
    if (cache.size >= limit) cache.clear();
    cache.set(source, compiled);
    return compiled;
  };
}
