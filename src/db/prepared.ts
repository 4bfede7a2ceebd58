import type { Db } from "./connection.ts";

/**
 * Prepared drizzle queries, made once per database connection. On the webhook, dispatch and
 * token paths, building a query in JavaScript cost more than SQLite running it.
 */
export function perDb<T>(make: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<object, T>();
  return (db) => {
    // A transaction shares its database's session (one better-sqlite3 connection), so both map
    // to the same prepared statements, which then run inside the transaction.
    const key = (db as unknown as { session: object }).session;
    let value = made.get(key);
    if (value === undefined) {
      value = make(db);
      made.set(key, value);
    }
    return value;
  };
}
