import Database from "better-sqlite3";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATABASE_FILE } from "./connection.ts";

export { DATABASE_FILE };

/**
 * What a restored database needs beside it in the data dir, unless given by the environment:
 * `secret-key` (KILN_SECRET_KEY) opens the sealed webhook secrets and git tokens; `registry-auth/`
 * holds the CA the registries trust and the key that signs their tokens;
 * `registry-events-token` (KILN_REGISTRY_EVENTS_TOKEN) is in the registries' configuration;
 * `admin-token` (KILN_ADMIN_TOKEN) guards account creation.
 */
export const FILES_THAT_TRAVEL = ["secret-key", "registry-auth", "registry-events-token", "admin-token"] as const;

export class BackupError extends Error {
  override readonly name = "BackupError";
}

/**
 * An online backup of the data dir's SQLite database into `target`, taken while Kiln runs (SQLite's
 * backup API over a read snapshot: writers are not blocked in WAL mode). The copy is written
 * beside `target` and renamed into place once complete and checked, so `target` is never a
 * partial file. Opens the database as is: no migration runs.
 */
export async function backupDatabase(dataDir: string, target: string): Promise<{ file: string; bytes: number }> {
  const source = join(dataDir, DATABASE_FILE);
  if (!existsSync(source)) throw new BackupError(`there is no database at ${source}`);
  const file = resolve(target);
  if (existsSync(file)) throw new BackupError(`${file} exists already; name a new file`);
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    // All pages in one step: a write by the running API between steps would restart the copy.
    await db.backup(partial, { progress: () => 0x7fffffff });
  } catch (err) {
    rmSync(partial, { force: true });
    throw new BackupError(`the backup failed: ${(err as Error).message}`);
  } finally {
    db.close();
  }
  const copy = new Database(partial, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma("quick_check", { simple: true });
    if (check !== "ok") {
      rmSync(partial, { force: true });
      throw new BackupError(`the backup does not pass SQLite's check: ${String(check)}`);
    }
  } finally {
    copy.close();
  }
  renameSync(partial, file);
  return { file, bytes: statSync(file).size };
}
