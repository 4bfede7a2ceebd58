/** Code-repository bindings. */
import { boolean, index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, updatedAt } from "./columns.ts";
import { repositories } from "./catalog.ts";
import { accounts, users } from "./iam.ts";

/** A repository's code source. Several repositories may bind the same code repository. */
export const sourceBindings = pgTable(
  "source_bindings",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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
    autoBuild: boolean("auto_build").notNull().default(true),
    branchFilter: text("branch_filter"),
    webhookSecretSealed: text("webhook_secret_sealed").notNull(),
    credentialsSealed: text("credentials_sealed"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("source_bindings_repo_key").on(t.accountId, t.repoKey)],
);
