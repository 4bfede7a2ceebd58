import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as schema from "./schema.ts";
import { seedSystemPolicies } from "./seed.ts";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** The project's `migrations/`, found from here whether this runs from src/ (tsx) or the dist/ bundle. */
function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "migrations");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("the migrations folder was not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}
const MIGRATIONS = migrationsDir();

/** Opens (creating if needed) `kiln.db` in the data dir, in WAL mode, and applies pending migrations. */
export function openDatabase(dataDir: string, file = "kiln.db"): Db {
  const sqlite = new Database(join(dataDir, file));
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  cacheStatements(sqlite);
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS });
  seedSystemPolicies(db);
  return db;
}

/**
 * Drizzle asks better-sqlite3 to compile every query anew, which cost more than running it on
 * the webhook and token paths. Compiled statements are kept by SQL text; drizzle switches a
 * statement to raw (array) rows when it wants them, so each reuse starts in object mode again.
 */
function cacheStatements(sqlite: Database.Database, limit = 1000): void {
  const compile = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) return statement.reader ? statement.raw(false) : statement;
    statement = compile(source);
    if (cache.size >= limit) cache.clear();
    cache.set(source, statement);
    return statement;
  }) as typeof sqlite.prepare;
}

/** True when a write failed on a UNIQUE constraint (a name already taken). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
