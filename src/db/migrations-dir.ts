import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's `migrations/`, found from here whether this runs from src/ (tsx) or the dist/ bundle. */
export function migrationsDir(name = "migrations"): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, name);
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`the ${name} folder was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
