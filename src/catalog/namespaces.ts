import { and, asc, count, eq } from "drizzle-orm";
import { conflict, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import type { Visibility } from "../db/enums.ts";
import { namespaces, repositories } from "../db/schema.ts";
import type { NamespaceView } from "./schemas.ts";

export type NamespaceRow = typeof namespaces.$inferSelect;

export function namespaceView(db: Db, row: NamespaceRow): NamespaceView {
  return {
    name: row.name,
    autoCreateRepository: row.autoCreateRepository,
    defaultVisibility: row.defaultVisibility,
    repositoryCount:
      db.select({ n: count() }).from(repositories).where(eq(repositories.namespaceId, row.id)).get()?.n ?? 0,
    createdAt: row.createdAt,
  };
}

/** Another account's namespace is reported as missing: its existence is not the caller's business. */
export function findNamespace(db: Db, accountId: string, name: string): NamespaceRow {
  const row = db
    .select()
    .from(namespaces)
    .where(and(eq(namespaces.accountId, accountId), eq(namespaces.name, name)))
    .get();
  if (!row) throw notFound("namespace", name, "NamespaceNotFound");
  return row;
}

export function listNamespaces(db: Db, accountId: string): NamespaceRow[] {
  return db.select().from(namespaces).where(eq(namespaces.accountId, accountId)).orderBy(asc(namespaces.name)).all();
}

export function createNamespace(
  db: Db,
  accountId: string,
  input: { name: string; autoCreateRepository?: boolean; defaultVisibility?: Visibility },
): NamespaceRow {
  try {
    return db
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

export function updateNamespace(
  db: Db,
  accountId: string,
  name: string,
  patch: { autoCreateRepository?: boolean; defaultVisibility?: Visibility },
): NamespaceRow {
  const row = findNamespace(db, accountId, name);
  if (patch.autoCreateRepository === undefined && patch.defaultVisibility === undefined) return row;
  return db.update(namespaces).set(patch).where(eq(namespaces.id, row.id)).returning().get()!;
}

export function deleteNamespace(db: Db, accountId: string, name: string): void {
  const row = findNamespace(db, accountId, name);
  const held = db.select({ n: count() }).from(repositories).where(eq(repositories.namespaceId, row.id)).get()?.n ?? 0;
  if (held > 0)
    throw conflict(
      "NamespaceNotEmpty",
      `namespace "${name}" still holds ${held} repositor${held === 1 ? "y" : "ies"}; delete its repositories first`,
    );
  db.delete(namespaces).where(eq(namespaces.id, row.id)).run();
}
