/** Build rules, build secrets, the git webhook deliveries that made builds, builds and their logs. */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import {
  BUILD_STAGES,
  BUILD_STATUSES,
  BUILD_TRIGGERS,
  DELIVERY_OUTCOMES,
  RULE_SOURCE_TYPES,
  type BuildStage,
} from "../enums.ts";
import { createdAt, updatedAt } from "./columns.ts";
import { repositories } from "./catalog.ts";
import { accounts } from "./iam.ts";
import { sourceBindings } from "./sources.ts";

export const buildRules = sqliteTable(
  "build_rules",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    sourceType: text("source_type", { enum: RULE_SOURCE_TYPES }).notNull(),
    source: text("source").notNull(),
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull(),
    dockerfileDir: text("dockerfile_dir").notNull().default("/"),
    dockerfileName: text("dockerfile_name").notNull().default("Dockerfile"),
    context: text("context"),
    buildArgs: text("build_args", { mode: "json" }).$type<Record<string, string>>().notNull(),
    target: text("target"),
    noCache: integer("no_cache", { mode: "boolean" }).notNull().default(false),
    /** Export BuildKit's inline cache with the image and import the last successful build's. */
    registryCache: integer("registry_cache", { mode: "boolean" }).notNull().default(true),
    /** `os/arch[/variant]` to build; empty builds the worker's own platform. */
    platforms: text("platforms", { mode: "json" }).$type<string[]>().notNull().default([]),
    includePaths: text("include_paths", { mode: "json" }).$type<string[]>().notNull(),
    excludePaths: text("exclude_paths", { mode: "json" }).$type<string[]>().notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("build_rules_repository").on(t.repositoryId)],
);

/** Build secrets of a repository, sealed with KILN_SECRET_KEY; a build mounts them by name. */
export const buildSecrets = sqliteTable(
  "build_secrets",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    valueSealed: text("value_sealed").notNull(),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("build_secrets_repository_name").on(t.repositoryId, t.name)],
);

/** Every verified webhook delivery, with what came of it; a redelivery answers from here. */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    bindingId: integer("binding_id")
      .notNull()
      .references(() => sourceBindings.id, { onDelete: "cascade" }),
    providerDeliveryId: text("provider_delivery_id").notNull(),
    outcome: text("outcome", { enum: DELIVERY_OUTCOMES }).notNull(),
    reason: text("reason"),
    buildIds: text("build_ids", { mode: "json" }).$type<string[]>().notNull(),
    receivedAt: createdAt(),
  },
  (t) => [uniqueIndex("deliveries_binding_delivery").on(t.bindingId, t.providerDeliveryId)],
);

/** The truth about a build; BullMQ only carries the work (jobId = build id). */
export const builds = sqliteTable(
  "builds",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    ruleId: integer("rule_id").references(() => buildRules.id, { onDelete: "set null" }),
    trigger: text("trigger", { enum: BUILD_TRIGGERS }).notNull(),
    ref: text("ref").notNull(),
    commit: text("commit"),
    cloneUrl: text("clone_url").notNull(),
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull(),
    /** The rule's build settings as they were when the build was recorded: a later rule edit changes nothing here. */
    dockerfileDir: text("dockerfile_dir").notNull().default("/"),
    dockerfileName: text("dockerfile_name").notNull().default("Dockerfile"),
    context: text("context"),
    buildArgs: text("build_args", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
    target: text("target"),
    noCache: integer("no_cache", { mode: "boolean" }).notNull().default(false),
    registryCache: integer("registry_cache", { mode: "boolean" }).notNull().default(true),
    platforms: text("platforms", { mode: "json" }).$type<string[]>().notNull().default([]),
    /**
     * How many of the image's layers its inline cache can give back (null: unknown, or no cache).
     * BuildKit 0.8 leaves out the steps it took from an imported cache, so an image built from
     * another's cache gives back fewer: the better cache source is the one that gives back most.
     */
    cacheLayers: integer("cache_layers"),
    /** Times Redis lost this build's job and it was queued again (kept here: any API process, any restart, counts). */
    lostJobs: integer("lost_jobs").notNull().default(0),
    status: text("status", { enum: BUILD_STATUSES }).notNull(),
    stage: text("stage", { enum: BUILD_STAGES }),
    /** When each stage began (ISO times by stage name), for the console's timings. */
    stageStartedAt: text("stage_started_at", { mode: "json" }).$type<Partial<Record<BuildStage, string>>>(),
    error: text("error"),
    digest: text("digest"),
    /** Manifest size in bytes of the last tag pushed, as the registry reported it. */
    size: integer("size"),
    deliveryId: integer("delivery_id").references(() => deliveries.id, { onDelete: "set null" }),
    /** Set once the job is in BullMQ; queued builds without it are the dispatcher's outbox. */
    enqueuedAt: text("enqueued_at"),
    queuedAt: text("queued_at").notNull(),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("builds_delivery").on(t.deliveryId),
    index("builds_repository_queued").on(t.repositoryId, t.queuedAt),
    index("builds_outbox").on(t.status, t.enqueuedAt),
    index("builds_supersede").on(t.repositoryId, t.ruleId, t.ref, t.status),
    index("builds_rule_status").on(t.ruleId, t.status),
  ],
);

/** A finished build's log, copied out of Redis so that it outlives the job. */
export const buildLogs = sqliteTable("build_logs", {
  buildId: text("build_id")
    .primaryKey()
    .references(() => builds.id, { onDelete: "cascade" }),
  lines: text("lines", { mode: "json" }).$type<string[]>().notNull(),
  truncated: integer("truncated", { mode: "boolean" }).notNull().default(false),
});
