import Database from "better-sqlite3";
import pg from "pg";

/**
 * Read access to a Kiln control-plane database for a bench's checks: PostgreSQL when `url` is
 * given, else the SQLite file (read-only). Statements must be portable SQL (no json_* functions):
 * compare JSON columns in JavaScript. count(*) comes back as a string from PostgreSQL (bigint):
 * wrap it in Number().
 */
export async function openKilnDatabase(where: { url?: string; file: string }) {
  if (where.url) {
    const client = new pg.Client({ connectionString: where.url });
    await client.connect();
    return {
      all: async <T>(statement: string): Promise<T[]> => (await client.query(statement)).rows as T[],
      close: () => client.end(),
    };
  }
  const db = new Database(where.file, { readonly: true });
  return {
    all: async <T>(statement: string): Promise<T[]> => db.prepare(statement).all() as T[],
    close: async () => void db.close(),
  };
}

export type KilnDatabase = Awaited<ReturnType<typeof openKilnDatabase>>;
