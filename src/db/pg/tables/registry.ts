/** What the registry reported, and the token service's audit trail. */
import { bigint, index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";
import { repositories } from "./catalog.ts";

/** Every push and delete the registry reported, also for repositories Kiln does not know. */
export const registryEvents = pgTable(
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
    /** Bytes: bigint, a blob can pass 2 GiB. */
    size: bigint("size", { mode: "number" }),
    actor: text("actor"),
    sourceAddr: text("source_addr"),
    occurredAt: text("occurred_at").notNull(),
    recordedAt: createdAt(),
  },
  (t) => [index("registry_events_repository").on(t.region, t.repository)],
);

/** Grants and denials of registry tokens and logins, for the account's root to read. */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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
