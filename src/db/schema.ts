/**
 * The tables the control plane queries. Their types are the SQLite schema's (src/db/sqlite-schema.ts,
 * which drizzle-kit reads); a process on PostgreSQL binds the same names to src/db/pg/schema.ts's
 * tables once, when it opens the database (`useTables`), so every import of a table here follows.
 * One database per process: the data migration, which speaks to both, imports the two schemas itself.
 */
import * as sqlite from "./sqlite-schema.ts";

export type { TagFilter } from "./sqlite-schema.ts";

export let buildRules = sqlite.buildRules;
export let buildSecrets = sqlite.buildSecrets;
export let deliveries = sqlite.deliveries;
export let builds = sqlite.builds;
export let buildLogs = sqlite.buildLogs;
export let namespaces = sqlite.namespaces;
export let repositories = sqlite.repositories;
export let tags = sqlite.tags;
export let accounts = sqlite.accounts;
export let users = sqlite.users;
export let groups = sqlite.groups;
export let groupMembers = sqlite.groupMembers;
export let policies = sqlite.policies;
export let policyAttachments = sqlite.policyAttachments;
export let accessKeys = sqlite.accessKeys;
export let sessions = sqlite.sessions;
export let iamGeneration = sqlite.iamGeneration;
export let webhooks = sqlite.webhooks;
export let webhookDeliveries = sqlite.webhookDeliveries;
export let webhookAttempts = sqlite.webhookAttempts;
export let registryEvents = sqlite.registryEvents;
export let auditEvents = sqlite.auditEvents;
export let sourceBindings = sqlite.sourceBindings;
export let leases = sqlite.leases;
export let loginFailures = sqlite.loginFailures;

/** The tables of one dialect, by the names the code imports. */
export type Tables = { [K in keyof typeof sqlite]: unknown };

/** Binds every table name above to `tables` (PostgreSQL's, typed as SQLite's: they answer the same values). */
export function useTables(tables: Tables): void {
  const t = tables as typeof sqlite;
  buildRules = t.buildRules;
  buildSecrets = t.buildSecrets;
  deliveries = t.deliveries;
  builds = t.builds;
  buildLogs = t.buildLogs;
  namespaces = t.namespaces;
  repositories = t.repositories;
  tags = t.tags;
  accounts = t.accounts;
  users = t.users;
  groups = t.groups;
  groupMembers = t.groupMembers;
  policies = t.policies;
  policyAttachments = t.policyAttachments;
  accessKeys = t.accessKeys;
  sessions = t.sessions;
  iamGeneration = t.iamGeneration;
  webhooks = t.webhooks;
  webhookDeliveries = t.webhookDeliveries;
  webhookAttempts = t.webhookAttempts;
  registryEvents = t.registryEvents;
  auditEvents = t.auditEvents;
  sourceBindings = t.sourceBindings;
  leases = t.leases;
  loginFailures = t.loginFailures;
}
