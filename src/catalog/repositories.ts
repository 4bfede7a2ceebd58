import { and, asc, desc, eq, sql } from "drizzle-orm";
import { conflict, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import { perDb } from "../db/prepared.ts";
import { namespaces, repositories, tags } from "../db/schema.ts";
import type { Visibility } from "../db/enums.ts";
import { findNamespace } from "./namespaces.ts";
import type { DockerCommands, RepositoryView, TagView } from "./schemas.ts";

type RepositoryRow = typeof repositories.$inferSelect;
export interface RepositoryRecord extends RepositoryRow {
  namespace: string;
}

export function repositoryView(row: RepositoryRecord, registryHost: string): RepositoryView {
  return {
    namespace: row.namespace,
    name: row.name,
    region: row.region,
    visibility: row.visibility,
    summary: row.summary,
    description: row.description,
    image: `${registryHost}/${row.namespace}/${row.name}`,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A function, not a constant: the tables are bound to the open database's dialect when it opens. */
const withNamespace = () => ({ repo: repositories, namespace: namespaces.name });
const flatten = (r: { repo: RepositoryRow; namespace: string }): RepositoryRecord => ({
  ...r.repo,
  namespace: r.namespace,
});

/** Repositories of the account in one region: another region's are not visible here. */
export async function listRepositories(
  db: Db,
  accountId: string,
  region: string,
  namespace?: string,
): Promise<RepositoryRecord[]> {
  const rows = await db
    .select(withNamespace())
    .from(repositories)
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(
      and(
        eq(repositories.accountId, accountId),
        eq(repositories.region, region),
        namespace ? eq(namespaces.name, namespace) : undefined,
      ),
    )
    .orderBy(asc(namespaces.name), asc(repositories.name))
    .all();
  return rows.map(flatten);
}

const queries = perDb((db) => {
  const p = (name: string) => sql.placeholder(name);
  return {
    find: db
      .select(withNamespace())
      .from(repositories)
      .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
      .where(
        and(
          eq(repositories.accountId, p("accountId")),
          eq(repositories.region, p("region")),
          eq(namespaces.name, p("namespace")),
          eq(repositories.name, p("name")),
        ),
      )
      .prepare(),
    tags: db
      .select({
        tag: tags.tag,
        digest: tags.digest,
        mediaType: tags.mediaType,
        platforms: tags.platforms,
        size: tags.size,
        pushedBy: tags.pushedBy,
        pushedAt: tags.pushedAt,
      })
      .from(tags)
      .where(eq(tags.repositoryId, p("repositoryId")))
      .orderBy(desc(tags.pushedAt), asc(tags.tag))
      .prepare(),
  };
});

export async function findRepository(
  db: Db,
  accountId: string,
  region: string,
  namespace: string,
  name: string,
): Promise<RepositoryRecord> {
  const row = await queries(db).find.get({ accountId, region, namespace, name });
  if (!row) throw notFound("repository", `${namespace}/${name}`, "RepositoryNotFound");
  return flatten(row);
}

export async function createRepository(
  db: Db,
  accountId: string,
  region: string,
  input: { namespace: string; name: string; visibility?: Visibility; summary?: string; description?: string },
): Promise<RepositoryRecord> {
  const ns = await findNamespace(db, accountId, input.namespace);
  try {
    const row = await db
      .insert(repositories)
      .values({
        accountId,
        region,
        namespaceId: ns.id,
        name: input.name,
        visibility: input.visibility ?? ns.defaultVisibility,
        summary: input.summary ?? null,
        description: input.description ?? null,
      })
      .returning()
      .get();
    return { ...row, namespace: ns.name };
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict(
        "RepositoryAlreadyExists",
        `repository "${input.namespace}/${input.name}" already exists in ${region}`,
      );
    throw err;
  }
}

export async function updateRepository(
  db: Db,
  accountId: string,
  region: string,
  namespace: string,
  name: string,
  patch: { visibility?: Visibility; summary?: string; description?: string },
): Promise<RepositoryRecord> {
  const row = await findRepository(db, accountId, region, namespace, name);
  const updated = (await db
    .update(repositories)
    .set({ ...patch, updatedAt: new Date().toISOString() })
    .where(eq(repositories.id, row.id))
    .returning()
    .get())!;
  return { ...updated, namespace };
}

export async function deleteRepository(
  db: Db,
  accountId: string,
  region: string,
  namespace: string,
  name: string,
): Promise<void> {
  const row = await findRepository(db, accountId, region, namespace, name);
  await db.delete(repositories).where(eq(repositories.id, row.id)).run();
}

export async function listTags(db: Db, repositoryId: number): Promise<TagView[]> {
  return await queries(db).tags.all({ repositoryId });
}

/** The commands ACR's console shows on a repository page, for the caller's login name. */
export function dockerCommands(image: string, registryHost: string, loginName: string): DockerCommands {
  return {
    login: `docker login --username=${loginName} ${registryHost}`,
    pull: `docker pull ${image}:[tag]`,
    tag: `docker tag [ImageId] ${image}:[tag]`,
    push: `docker push ${image}:[tag]`,
  };
}
