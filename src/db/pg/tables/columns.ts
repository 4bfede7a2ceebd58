/**
 * The column kinds of the PostgreSQL schema that SQLite spells differently. Every column answers
 * the JS value its SQLite twin (src/db/tables/) answers: the application is typed by the SQLite tables.
 */
import { sql } from "drizzle-orm";
import { customType, text } from "drizzle-orm/pg-core";

/** Now as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ','now') writes it: ISO 8601 in UTC, milliseconds, `Z`. */
export const nowIso = sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const createdAt = () => text("created_at").notNull().default(nowIso);

/**
 * When a row last changed. Its own column (these tables once kept it in created_at, so an edit
 * overwrote the creation time); the database default only fills rows older than the column.
 */
export const updatedAt = () =>
  text("updated_at")
    .notNull()
    .default("")
    .$defaultFn(() => new Date().toISOString());

/**
 * SQLite's `text({ mode: "json" })`: JSON kept as TEXT (JSON.stringify in, JSON.parse out), not
 * jsonb. jsonb would answer parsed values to hand-written SQL and re-order and re-space object keys;
 * as text, a raw query reads the very string SQLite holds on both databases, and the data migration
 * copies the column byte for byte. Nothing queries inside these values, so jsonb would buy nothing.
 * A default is SQL (`sql\`'[]'\``): PostgreSQL fills it, drizzle leaves the column out of the insert.
 */
export const jsonText = customType<{ data: unknown; driverData: string }>({
  dataType: () => "text",
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value) as unknown,
});
