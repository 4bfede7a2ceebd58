import { and, asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import { seal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { buildSecrets } from "../db/schema.ts";
import { invalid, notFound } from "../errors.ts";

/** A secret's id as BuildKit takes it in `RUN --mount=type=secret,id=…`. */
export const BUILD_SECRET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** The largest value, in UTF-8 bytes (BuildKit hands it to the build as a file). */
export const BUILD_SECRET_MAX_BYTES = 64 * 1024;
/** Every secret of a repository travels in each of its build jobs: a bound keeps jobs small. */
export const BUILD_SECRETS_PER_REPOSITORY = 100;

export const buildSecretIdSchema = z
  .string()
  .regex(BUILD_SECRET_ID, "must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit");

/** The body of `PUT …/build-secrets/{id}`. Its messages never quote the value. */
export const BuildSecretInputSchema = z.strictObject({
  value: z
    .string({ error: "must be a string" })
    .min(1, "must not be empty")
    .refine((v) => Buffer.byteLength(v, "utf8") <= BUILD_SECRET_MAX_BYTES, {
      message: `must be at most ${BUILD_SECRET_MAX_BYTES} bytes (64 KiB)`,
    })
    .meta({ description: "The secret (write-only: no answer ever holds it)" }),
});

/** What anyone may read of a build secret: its id and when it changed, never its value. */
export const BuildSecretViewSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BuildSecretSummary = z.infer<typeof BuildSecretViewSchema>;

/**
 * Sets (creates or replaces) one secret; the value is sealed before it reaches the database.
 * `created` says whether the id was new.
 */
export async function putBuildSecret(
  db: Db,
  key: Buffer,
  repositoryId: number,
  name: string,
  value: string,
): Promise<{ secret: BuildSecretSummary; created: boolean }> {
  return db.transaction(async (tx) => {
    const where = and(eq(buildSecrets.repositoryId, repositoryId), eq(buildSecrets.name, name));
    const existing = await tx.select({ id: buildSecrets.id }).from(buildSecrets).where(where).get();
    const now = new Date().toISOString();
    const valueSealed = seal(key, value);
    if (existing) {
      const row = await tx
        .update(buildSecrets)
        .set({ valueSealed, updatedAt: now })
        .where(eq(buildSecrets.id, existing.id))
        .returning()
        .get();
      return { secret: summaryOf(row), created: false };
    }
    const held = await tx
      .select({ n: count() })
      .from(buildSecrets)
      .where(eq(buildSecrets.repositoryId, repositoryId))
      .get();
    if ((held?.n ?? 0) >= BUILD_SECRETS_PER_REPOSITORY)
      throw invalid(
        "id",
        `a repository holds at most ${BUILD_SECRETS_PER_REPOSITORY} build secrets; delete one before adding "${name}"`,
      );
    const row = await tx
      .insert(buildSecrets)
      .values({ repositoryId, name, valueSealed, createdAt: now, updatedAt: now })
      .returning()
      .get();
    return { secret: summaryOf(row), created: true };
  });
}

const summaryOf = (row: { name: string; createdAt: string; updatedAt: string }): BuildSecretSummary => ({
  id: row.name,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

export async function listBuildSecrets(db: Db, repositoryId: number): Promise<BuildSecretSummary[]> {
  return db
    .select({ id: buildSecrets.name, createdAt: buildSecrets.createdAt, updatedAt: buildSecrets.updatedAt })
    .from(buildSecrets)
    .where(eq(buildSecrets.repositoryId, repositoryId))
    .orderBy(asc(buildSecrets.name))
    .all();
}

export async function deleteBuildSecret(db: Db, repositoryId: number, name: string): Promise<void> {
  const gone = await db
    .delete(buildSecrets)
    .where(and(eq(buildSecrets.repositoryId, repositoryId), eq(buildSecrets.name, name)))
    .run();
  if (gone.changes === 0) throw notFound("build secret", name, "BuildSecretNotFound");
}

/** Every secret of the repository by name, each still sealed: the job carries them so. */
export async function sealedBuildSecrets(db: Db, repositoryId: number): Promise<Record<string, string>> {
  const rows = await db
    .select({ name: buildSecrets.name, valueSealed: buildSecrets.valueSealed })
    .from(buildSecrets)
    .where(eq(buildSecrets.repositoryId, repositoryId))
    .all();
  return Object.fromEntries(rows.map((r) => [r.name, r.valueSealed]));
}
