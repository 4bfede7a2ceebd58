import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as schema from "./schema.ts";
import { seedSystemPolicies } from "./seed.ts";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Opens (creating if needed) `kiln.db` in the data dir, in WAL mode, and applies pending migrations. */
export function openDatabase(dataDir: string, file = "kiln.db"): Db {
  const sqlite = new Database(join(dataDir, file));
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS });
  seedSystemPolicies(db);
  return db;
}

/** True when a write failed on a UNIQUE constraint (a name already taken). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
