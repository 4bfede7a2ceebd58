import Database from "better-sqlite3";
import { drizzle as drizzleSync } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { drizzle } from "drizzle-orm/sqlite-proxy";
import { AsyncLocalStorage } from "node:async_hooks";
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
      while (!gate.mayRun()) await gate.free();
      return execute(source, params, method) as { rows: unknown[] };
    },
    { schema },
  ) as unknown as Db;
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn, config) => gate.exclusive(() => transaction(fn, config))) as Db["transaction"];
  const raw: RawRunner = async (query) => {
    const { sql: source, params } = dialect.sqlToQuery(query);
    while (!gate.mayRun()) await gate.free();
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
 * statements (they would commit or roll back with it) nor a second BEGIN. A transaction runs alone:
 * statements from its own async context go through, the others wait until it ends.
 */
class TransactionGate {
  private readonly context = new AsyncLocalStorage<symbol>();
  private holder: symbol | null = null;
  private waiting: (() => void)[] = [];

  mayRun(): boolean {
    return this.holder === null || this.context.getStore() === this.holder;
  }

  free(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // A nested transaction (a savepoint) is already inside its parent's turn.
    if (this.holder !== null && this.context.getStore() === this.holder) return fn();
    while (this.holder !== null) await this.free();
    const token = Symbol("transaction");
    this.holder = token;
    try {
      return await this.context.run(token, fn);
    } finally {
      this.holder = null;
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
