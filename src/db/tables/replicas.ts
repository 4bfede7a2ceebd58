/** What API replicas share beyond the data itself: leases on singleton work, failed logins. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Work only one API process should do at a time (reconciling builds with Redis, retention
 * sweeps): the holder renews its lease; when it stops renewing, another takes over at expiry.
 */
export const leases = sqliteTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  /** Milliseconds since the epoch. */
  expiresAt: integer("expires_at_ms").notNull(),
});

/** Failed logins by key (`login:<name>`, `ip:<address>`) per scope, for the throttle every replica reads. */
export const loginFailures = sqliteTable(
  "login_failures",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    /** Milliseconds since the epoch. */
    failedAt: integer("failed_at_ms").notNull(),
  },
  (t) => [index("login_failures_scope_key_at").on(t.scope, t.key, t.failedAt)],
);
