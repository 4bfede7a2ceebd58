/** Namespaces, repositories, and the tags the registry reported. */
import { bigint, boolean, index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { VISIBILITIES } from "../../enums.ts";
import { createdAt, jsonText, updatedAt } from "./columns.ts";
import { accounts } from "./iam.ts";

/** Namespace names are unique across the instance: they are the first path part of every image. */
export const namespaces = pgTable("namespaces", {
  id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
  accountId: text("account_id")
    .notNull()
    .references(() => accounts.id, { onDelete: "cascade" }),
  name: text("name").notNull().unique(),
  autoCreateRepository: boolean("auto_create_repository").notNull().default(false),
  defaultVisibility: text("default_visibility", { enum: VISIBILITIES }).notNull().default("private"),
  createdAt: createdAt(),
});

export const repositories = pgTable(
  "repositories",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
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
export const tags = pgTable(
  "tags",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    tag: text("tag").notNull(),
    digest: text("digest").notNull(),
    mediaType: text("media_type"),
    /** `os/arch[/variant]` of each image under the tag (several for an image index); null when unknown. */
    platforms: jsonText("platforms").$type<string[]>(),
    /** Bytes: bigint, an image can pass 2 GiB. */
    size: bigint("size", { mode: "number" }),
    pushedBy: text("pushed_by"),
    pushedAt: text("pushed_at").notNull(),
  },
  (t) => [
    uniqueIndex("tags_repository_tag").on(t.repositoryId, t.tag),
    index("tags_repository_digest").on(t.repositoryId, t.digest),
  ],
);
