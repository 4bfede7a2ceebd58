/** Outbound webhooks, their deliveries (the outbox) and every try. */
import { bigint, boolean, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENTS, type WebhookEvent } from "../../enums.ts";
import type { TagFilter } from "../../tables/notifications.ts";
import { createdAt, jsonText, nowIso } from "./columns.ts";
import { repositories } from "./catalog.ts";

export type { TagFilter };

/** An outbound webhook (ACR's trigger): where to POST which events of a repository, signed with its secret. */
export const webhooks = pgTable(
  "webhooks",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    name: text("name"),
    url: text("url").notNull(),
    events: jsonText("events").$type<WebhookEvent[]>().notNull(),
    tagFilter: jsonText("tag_filter").$type<TagFilter>().notNull(),
    /** The HMAC key of X-Kiln-Signature-256, sealed with KILN_SECRET_KEY; shown once. */
    secretSealed: text("secret_sealed").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull().default(nowIso),
  },
  (t) => [index("webhooks_repository").on(t.repositoryId)],
);

/**
 * The outbound outbox: one row per (webhook, event), written in the transaction of the event
 * itself. The dispatcher claims due rows with a lease, so several API processes never send one
 * twice at the same time; `body` is the exact JSON that is signed and sent on every try.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    webhookId: integer("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    event: text("event", { enum: WEBHOOK_EVENTS }).notNull(),
    body: text("body").notNull(),
    status: text("status", { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When the next try is due (pending only). */
    nextAttemptAt: text("next_attempt_at").notNull(),
    /** The claim of one dispatcher: nobody else tries this row before `leaseUntil`. */
    leaseOwner: text("lease_owner"),
    leaseUntil: text("lease_until"),
    lastStatusCode: integer("last_status_code"),
    /** Milliseconds: bigint, like every duration and size. */
    lastLatencyMs: bigint("last_latency_ms", { mode: "number" }),
    lastResponse: text("last_response"),
    lastError: text("last_error"),
    /** The delivery this one repeats (a redelivery sends the same body under a new id). */
    redeliveryOf: text("redelivery_of"),
    createdAt: createdAt(),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("webhook_deliveries_due").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_webhook").on(t.webhookId, t.createdAt),
  ],
);

/** Every try of an outbound delivery: what the receiver answered, how fast, or why it failed. */
export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    at: text("at").notNull(),
    statusCode: integer("status_code"),
    /** Milliseconds: bigint, like every duration and size. */
    latencyMs: bigint("latency_ms", { mode: "number" }).notNull(),
    response: text("response"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
