/** Accounts, sub-accounts, groups, policies and their attachments, access keys, console sessions. */
import { index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { POLICY_TYPES, PRINCIPAL_TYPES } from "../../enums.ts";
import { createdAt, updatedAt } from "./columns.ts";

/** A main account. Its root logs in as `alias`. */
export const accounts = pgTable("accounts", {
  id: text("id").primaryKey(),
  alias: text("alias").notNull().unique(),
  passwordHash: text("password_hash"),
  registryPasswordHash: text("registry_password_hash"),
  registryPasswordChangedAt: text("registry_password_changed_at"),
  createdAt: createdAt(),
});

/** A sub-account (RAM user); logs in as `name@alias`. */
export const users = pgTable(
  "users",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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

export const groups = pgTable(
  "groups",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("groups_account_name").on(t.accountId, t.name)],
);

export const groupMembers = pgTable(
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
export const policies = pgTable(
  "policies",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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

export const policyAttachments = pgTable(
  "policy_attachments",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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
export const accessKeys = pgTable(
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
export const sessions = pgTable(
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

/**
 * One row whose value triggers bump on every change to policies, attachments or group members
 * (see the migration), so that caches of who-holds-which-policy know when to drop.
 */
export const iamGeneration = pgTable("iam_generation", {
  /** SQLite's INTEGER PRIMARY KEY numbers rows even without AUTOINCREMENT: an identity here too. */
  id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
  value: integer("value").notNull().default(0),
});
