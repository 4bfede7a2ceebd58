/** What API replicas share beyond the data itself: leases on singleton work, failed logins. */
import { bigint, index, integer, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Work only one API process should do at a time (reconciling builds with Redis, retention
 * sweeps): the holder renews its lease; when it stops renewing, another takes over at expiry.
 */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  /** Milliseconds since the epoch. */
  expiresAt: bigint("expires_at_ms", { mode: "number" }).notNull(),
});

/** Failed logins by key (`login:<name>`, `ip:<address>`) per scope, for the throttle every replica reads. */
export const loginFailures = pgTable(
  "login_failures",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    /** Milliseconds since the epoch. */
    failedAt: bigint("failed_at_ms", { mode: "number" }).notNull(),
  },
  (t) => [index("login_failures_scope_key_at").on(t.scope, t.key, t.failedAt)],
);
