import { and, asc, eq } from "drizzle-orm";
import { seal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { buildSecrets } from "../db/schema.ts";
import { notFound } from "../errors.ts";

/** What anyone may read of a build secret: its name and when it changed, never its value. */
export interface BuildSecretSummary {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** Sets (creates or replaces) one secret; the value is sealed before it reaches the database. */
export function putBuildSecret(
  db: Db,
  key: Buffer,
  repositoryId: number,
  name: string,
  value: string,
): BuildSecretSummary {
  const now = new Date().toISOString();
  const row = db
    .insert(buildSecrets)
    .values({ repositoryId, name, valueSealed: seal(key, value), createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [buildSecrets.repositoryId, buildSecrets.name],
      set: { valueSealed: seal(key, value), updatedAt: now },
    })
    .returning()
    .get();
  return { id: row.name, createdAt: row.createdAt, updatedAt: row.updatedAt };
}

export function listBuildSecrets(db: Db, repositoryId: number): BuildSecretSummary[] {
  return db
    .select({ id: buildSecrets.name, createdAt: buildSecrets.createdAt, updatedAt: buildSecrets.updatedAt })
    .from(buildSecrets)
    .where(eq(buildSecrets.repositoryId, repositoryId))
    .orderBy(asc(buildSecrets.name))
    .all();
}

export function deleteBuildSecret(db: Db, repositoryId: number, name: string): void {
  const gone = db
    .delete(buildSecrets)
    .where(and(eq(buildSecrets.repositoryId, repositoryId), eq(buildSecrets.name, name)))
    .run();
  if (gone.changes === 0) throw notFound("build secret", name, "BuildSecretNotFound");
}

/** Every secret of the repository by name, each still sealed: the job carries them so. */
export function sealedBuildSecrets(db: Db, repositoryId: number): Record<string, string> {
  const rows = db
    .select({ name: buildSecrets.name, valueSealed: buildSecrets.valueSealed })
    .from(buildSecrets)
    .where(eq(buildSecrets.repositoryId, repositoryId))
    .all();
  return Object.fromEntries(rows.map((r) => [r.name, r.valueSealed]));
}
