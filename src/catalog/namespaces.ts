import { and, asc, count, eq } from "drizzle-orm";
import { conflict, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import type { Visibility } from "../db/enums.ts";
import { namespaces, repositories } from "../db/schema.ts";
import type { NamespaceView } from "./schemas.ts";

export type NamespaceRow = typeof namespaces.$inferSelect;

export async function namespaceView(db: Db, row: NamespaceRow): Promise<NamespaceView> {
  return {
    name: row.name,
    autoCreateRepository: row.autoCreateRepository,
    defaultVisibility: row.defaultVisibility,
    repositoryCount: await repositoryCount(db, row.id),
    createdAt: row.createdAt,
  };
}

async function repositoryCount(db: Db, namespaceId: number): Promise<number> {
  return (
    (await db.select({ n: count() }).from(repositories).where(eq(repositories.namespaceId, namespaceId)).get())?.n ?? 0
  );
}

/** Another account's namespace is reported as missing: its existence is not the caller's business. */
export async function findNamespace(db: Db, accountId: string, name: string): Promise<NamespaceRow> {
  const row = await db
    .select()
    .from(namespaces)
    .where(and(eq(namespaces.accountId, accountId), eq(namespaces.name, name)))
    .get();
  if (!row) throw notFound("namespace", name, "NamespaceNotFound");
  return row;
}

export async function listNamespaces(db: Db, accountId: string): Promise<NamespaceRow[]> {
  return await db
    .select()
    .from(namespaces)
    .where(eq(namespaces.accountId, accountId))
    .orderBy(asc(namespaces.name))
    .all();
}

export async function createNamespace(
  db: Db,
  accountId: string,
  input: { name: string; autoCreateRepository?: boolean; defaultVisibility?: Visibility },
): Promise<NamespaceRow> {
  try {
    return await db
      .insert(namespaces)
      .values({
        accountId,
        name: input.name,
        autoCreateRepository: input.autoCreateRepository ?? false,
        defaultVisibility: input.defaultVisibility ?? "private",
      })
      .returning()
      .get();
  } catch (err) {
    // Names are global: the holder may be another account, and the name is taken all the same.
    if (isUniqueViolation(err)) throw conflict("NamespaceAlreadyExists", `namespace "${input.name}" is already taken`);
    throw err;
  }
}

export async function updateNamespace(
  db: Db,
  accountId: string,
  name: string,
  patch: { autoCreateRepository?: boolean; defaultVisibility?: Visibility },
): Promise<NamespaceRow> {
  const row = await findNamespace(db, accountId, name);
  if (patch.autoCreateRepository === undefined && patch.defaultVisibility === undefined) return row;
  return (await db.update(namespaces).set(patch).where(eq(namespaces.id, row.id)).returning().get())!;
}

export async function deleteNamespace(db: Db, accountId: string, name: string): Promise<void> {
  const row = await findNamespace(db, accountId, name);
  const held = await repositoryCount(db, row.id);
  if (held > 0)
    throw conflict(
      "NamespaceNotEmpty",
      `namespace "${name}" still holds ${held} repositor${held === 1 ? "y" : "ies"}; delete its repositories first`,
    );
  await db.delete(namespaces).where(eq(namespaces.id, row.id)).run();
}
