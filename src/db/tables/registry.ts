/** What the registry reported, and the token service's audit trail. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt } from "./columns.ts";
import { repositories } from "./catalog.ts";

/** Every push and delete the registry reported, also for repositories Kiln does not know. */
export const registryEvents = sqliteTable(
  "registry_events",
  {
    id: text("id").primaryKey(),
    region: text("region").notNull(),
    action: text("action").notNull(),
    repository: text("repository").notNull(),
    repositoryId: integer("repository_id").references(() => repositories.id, { onDelete: "set null" }),
    tag: text("tag"),
    digest: text("digest"),
    mediaType: text("media_type"),
    size: integer("size"),
    actor: text("actor"),
    sourceAddr: text("source_addr"),
    occurredAt: text("occurred_at").notNull(),
    recordedAt: createdAt(),
  },
  (t) => [index("registry_events_repository").on(t.region, t.repository)],
);

/** Grants and denials of registry tokens and logins, for the account's root to read. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id"),
    actor: text("actor").notNull(),
    sourceIp: text("source_ip"),
    event: text("event").notNull(),
    resource: text("resource"),
    requested: text("requested"),
    granted: text("granted"),
    outcome: text("outcome").notNull(),
    reason: text("reason"),
    at: createdAt(),
  },
  (t) => [index("audit_events_account_at").on(t.accountId, t.at)],
);
