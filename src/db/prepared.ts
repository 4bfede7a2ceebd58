import type { Db } from "./connection.ts";

/**
 * Prepared drizzle queries, made once per database connection. On the webhook, dispatch and
 * token paths, building a query in JavaScript cost more than SQLite running it.
 */
export function perDb<T>(make: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<object, T>();
  return (db) => {
    // On SQLite a transaction shares its database's session (one connection), so both map to the
    // same prepared queries, which then run inside the transaction; on PostgreSQL a transaction has
    // a session of its own (its pooled client), so its queries are made for it.
    const key = (db as unknown as { session: object }).session;
    let value = made.get(key);
    if (value === undefined) {
      value = make(db);
      made.set(key, value);
    }
    return value;
  };
}
