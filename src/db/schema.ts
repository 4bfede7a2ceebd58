import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import {
  BUILD_STAGES,
  BUILD_STATUSES,
  BUILD_TRIGGERS,
  DELIVERY_OUTCOMES,
  POLICY_TYPES,
  PRINCIPAL_TYPES,
  RULE_SOURCE_TYPES,
  VISIBILITIES,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_EVENTS,
  type BuildStage,
  type TagFilterKind,
  type WebhookEvent,
} from "./enums.ts";

const createdAt = () =>
  text("created_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`);

/**
 * When a row last changed. Its own column (these tables once kept it in created_at, so an edit
 * overwrote the creation time); the database default only fills rows older than the column.
 */
const updatedAt = () =>
  text("updated_at")
    .notNull()
    .default("")
    .$defaultFn(() => new Date().toISOString());

/** A main account. Its root logs in as `alias`. */
export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  alias: text("alias").notNull().unique(),
  passwordHash: text("password_hash"),
  registryPasswordHash: text("registry_password_hash"),
  registryPasswordChangedAt: text("registry_password_changed_at"),
  createdAt: createdAt(),
});

/** A sub-account (RAM user); logs in as `name@alias`. */
export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    displayName: text("display_name"),
    passwordHash: text("password_hash"),
    registryPasswordHash: text("registry_password_hash"),
    registryPasswordChangedAt: text("registry_password_changed_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("users_account_name").on(t.accountId, t.name)],
);

export const groups = sqliteTable(
  "groups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("groups_account_name").on(t.accountId, t.name)],
);

export const groupMembers = sqliteTable(
  "group_members",
  {
    groupId: integer("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index("group_members_user").on(t.userId)],
);

/** Custom policies belong to an account; system policies (accountId null) are shared by all. */
export const policies = sqliteTable(
  "policies",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id").references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    type: text("type", { enum: POLICY_TYPES }).notNull(),
    description: text("description"),
    document: text("document").notNull(),
    version: integer("version").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex("policies_account_name").on(t.accountId, t.name)],
);

export const policyAttachments = sqliteTable(
  "policy_attachments",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    policyId: integer("policy_id")
      .notNull()
      .references(() => policies.id, { onDelete: "cascade" }),
    principalType: text("principal_type", { enum: PRINCIPAL_TYPES }).notNull(),
    principalId: integer("principal_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("policy_attachments_unique").on(t.policyId, t.principalType, t.principalId),
    index("policy_attachments_principal").on(t.principalType, t.principalId),
  ],
);

/** Long-lived API tokens. `userId` null is the account's root. The secret is stored as an argon2id hash. */
export const accessKeys = sqliteTable(
  "access_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    userId: integer("user_id").references(() => users.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull(),
    description: text("description"),
    createdAt: createdAt(),
    lastUsedAt: text("last_used_at"),
  },
  (t) => [index("access_keys_user").on(t.accountId, t.userId)],
);

/** Console sessions from a password login. The secret is random, so a SHA-256 hash suffices. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    userId: integer("user_id").references(() => users.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull(),
    expiresAt: text("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("sessions_user").on(t.accountId, t.userId)],
);

/** Namespace names are unique across the instance: they are the first path part of every image. */
export const namespaces = sqliteTable("namespaces", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  accountId: text("account_id")
    .notNull()
    .references(() => accounts.id, { onDelete: "cascade" }),
  name: text("name").notNull().unique(),
  autoCreateRepository: integer("auto_create_repository", { mode: "boolean" }).notNull().default(false),
  defaultVisibility: text("default_visibility", { enum: VISIBILITIES }).notNull().default("private"),
  createdAt: createdAt(),
});

export const repositories = sqliteTable(
  "repositories",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    namespaceId: integer("namespace_id")
      .notNull()
      .references(() => namespaces.id),
    name: text("name").notNull(),
    visibility: text("visibility", { enum: VISIBILITIES }).notNull(),
    summary: text("summary"),
    description: text("description"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex("repositories_region_namespace_name").on(t.region, t.namespaceId, t.name)],
);

/** Tags as the registry reported them (notifications); the registry holds the bytes. */
export const tags = sqliteTable(
  "tags",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    tag: text("tag").notNull(),
    digest: text("digest").notNull(),
    mediaType: text("media_type"),
    /** `os/arch[/variant]` of each image under the tag (several for an image index); null when unknown. */
    platforms: text("platforms", { mode: "json" }).$type<string[]>(),
    size: integer("size"),
    pushedBy: text("pushed_by"),
    pushedAt: text("pushed_at").notNull(),
  },
  (t) => [
    uniqueIndex("tags_repository_tag").on(t.repositoryId, t.tag),
    index("tags_repository_digest").on(t.repositoryId, t.digest),
  ],
);

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

/**
 * One row whose value triggers bump on every change to policies, attachments or group members
 * (see the migration), so that caches of who-holds-which-policy know when to drop.
 */
export const iamGeneration = sqliteTable("iam_generation", {
  id: integer("id").primaryKey(),
  value: integer("value").notNull().default(0),
});

/** A repository's code source. Several repositories may bind the same code repository. */
export const sourceBindings = sqliteTable(
  "source_bindings",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    repositoryId: integer("repository_id")
      .notNull()
      .unique()
      .references(() => repositories.id, { onDelete: "cascade" }),
    hookId: text("hook_id").notNull().unique(),
    provider: text("provider").notNull(),
    repoUrl: text("repo_url").notNull(),
    /** host/path, lower-cased, without `.git`: what "the same code repository" means. */
    repoKey: text("repo_key").notNull(),
    pushUserId: integer("push_user_id")
      .notNull()
      .references(() => users.id),
    autoBuild: integer("auto_build", { mode: "boolean" }).notNull().default(true),
    branchFilter: text("branch_filter"),
    webhookSecretSealed: text("webhook_secret_sealed").notNull(),
    credentialsSealed: text("credentials_sealed"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("source_bindings_repo_key").on(t.accountId, t.repoKey)],
);

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

/** Which tags an outbound webhook fires for (DESIGN §8a). */
export type TagFilter =
  { kind: Extract<TagFilterKind, "all"> } | { kind: "list"; tags: string[] } | { kind: "regex"; regex: string };

/** An outbound webhook (ACR's trigger): where to POST which events of a repository, signed with its secret. */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    name: text("name"),
    url: text("url").notNull(),
    events: text("events", { mode: "json" }).$type<WebhookEvent[]>().notNull(),
    tagFilter: text("tag_filter", { mode: "json" }).$type<TagFilter>().notNull(),
    /** The HMAC key of X-Kiln-Signature-256, sealed with KILN_SECRET_KEY; shown once. */
    secretSealed: text("secret_sealed").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: text("updated_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index("webhooks_repository").on(t.repositoryId)],
);

/**
 * The outbound outbox: one row per (webhook, event), written in the transaction of the event
 * itself. The dispatcher claims due rows with a lease, so several API processes never send one
 * twice at the same time; `body` is the exact JSON that is signed and sent on every try.
 */
export const webhookDeliveries = sqliteTable(
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
    lastLatencyMs: integer("last_latency_ms"),
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
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    at: text("at").notNull(),
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms").notNull(),
    response: text("response"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
