/** Code-repository bindings. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, updatedAt } from "./columns.ts";
import { repositories } from "./catalog.ts";
import { accounts, users } from "./iam.ts";

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
