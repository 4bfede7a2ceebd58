import { sql } from "drizzle-orm";
import { text } from "drizzle-orm/sqlite-core";

export const createdAt = () =>
  text("created_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`);

/**
 * When a row last changed. Its own column (these tables once kept it in created_at, so an edit
 * overwrote the creation time); the database default only fills rows older than the column.
 */
export const updatedAt = () =>
  text("updated_at")
    .notNull()
    .default("")
    .$defaultFn(() => new Date().toISOString());
