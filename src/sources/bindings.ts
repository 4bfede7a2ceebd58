import { and, eq, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import { DomainError, invalid, notFound } from "../errors.ts";
import type { RepositoryRecord } from "../catalog/repositories.ts";
import type { Config } from "../config.ts";
import { seal, unseal } from "../crypto/seal.ts";
import type { Db } from "../db/connection.ts";
import { sourceBindings, users } from "../db/schema.ts";
import { randomId, randomSecret } from "../iam/secrets.ts";
import { findUser } from "../iam/users.ts";
import { checkRepoUrl } from "./repo-url.ts";
import type { BindingInput, BindingView } from "./schemas.ts";

export type BindingRow = typeof sourceBindings.$inferSelect;

export async function bindingView(
  db: Db,
  config: Config,
  row: BindingRow,
  webhookSecret?: string,
): Promise<BindingView> {
  const user = await db.select({ name: users.name }).from(users).where(eq(users.id, row.pushUserId)).get();
  const pushUser = user?.name ?? "";
  return {
    provider: row.provider,
    repoUrl: row.repoUrl,
    pushUser,
    autoBuild: row.autoBuild,
    branchFilter: row.branchFilter,
    hasCredentials: row.credentialsSealed !== null,
    webhookUrl: `${config.publicUrl}/hooks/${row.hookId}`,
    ...(webhookSecret ? { webhookSecret } : {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export async function findBinding(db: Db, repositoryId: number, name: string): Promise<BindingRow> {
  const row = await db.select().from(sourceBindings).where(eq(sourceBindings.repositoryId, repositoryId)).get();
  if (!row) throw notFound("source binding of", name, "SourceNotBound");
  return row;
}

/**
 * Binds (or rebinds) a repository to a code repository. A new binding gets a hook id and a
 * secret, shown once; a rebind keeps both unless `rotateSecret`.
 */
export async function putBinding(
  db: Db,
  config: Config,
  repo: RepositoryRecord,
  input: BindingInput,
  rotateSecret = false,
): Promise<{ row: BindingRow; secret?: string }> {
  const url = checkRepoUrl(input.repoUrl, config.allowLocalGit);
  if (!url.ok) throw invalid("repoUrl", url.reason);
  if (input.branchFilter !== undefined) {
    try {
      new RegExp(input.branchFilter);
    } catch (err) {
      throw invalid("branchFilter", `is not a regular expression (${(err as Error).message})`);
    }
  }
  // Read and written in one transaction, so two requests binding one repository at once do not both insert.
  return db.transaction(async (tx) => {
    const pushUser = await findUser(tx, repo.accountId, input.pushUser);
    const existing = await tx.select().from(sourceBindings).where(eq(sourceBindings.repositoryId, repo.id)).get();
    const secret = !existing || rotateSecret ? randomSecret(24) : undefined;
    const values = {
      provider: input.provider,
      repoUrl: input.repoUrl,
      repoKey: url.key,
      pushUserId: pushUser.id,
      autoBuild: input.autoBuild ?? true,
      branchFilter: input.branchFilter ?? null,
      credentialsSealed: input.credentials ? seal(config.secretKey, JSON.stringify(input.credentials)) : null,
      updatedAt: new Date().toISOString(),
      ...(secret ? { webhookSecretSealed: seal(config.secretKey, secret) } : {}),
    };
    const row = existing
      ? (await tx.update(sourceBindings).set(values).where(eq(sourceBindings.id, existing.id)).returning().get())!
      : await tx
          .insert(sourceBindings)
          .values({
            ...values,
            accountId: repo.accountId,
            repositoryId: repo.id,
            hookId: randomId(24),
            webhookSecretSealed: values.webhookSecretSealed!,
          })
          .returning()
          .get();
    return { row, secret };
  });
}

export function webhookSecretOf(config: Config, row: BindingRow): string {
  return unseal(config.secretKey, row.webhookSecretSealed);
}

/** The other repositories of the account bound to the same code repository: one push builds them all. */
const queries = perDb((db) => ({
  sameCode: db
    .select()
    .from(sourceBindings)
    .where(
      and(
        eq(sourceBindings.accountId, sql.placeholder("accountId")),
        eq(sourceBindings.repoKey, sql.placeholder("repoKey")),
      ),
    )
    .prepare(),
  byRepository: db
    .select()
    .from(sourceBindings)
    .where(eq(sourceBindings.repositoryId, sql.placeholder("id")))
    .prepare(),
  byHook: db
    .select()
    .from(sourceBindings)
    .where(eq(sourceBindings.hookId, sql.placeholder("hookId")))
    .prepare(),
}));

export async function bindingsOfSameCode(db: Db, row: BindingRow): Promise<BindingRow[]> {
  return queries(db).sameCode.all({ accountId: row.accountId, repoKey: row.repoKey });
}

export async function bindingOfRepository(db: Db, repositoryId: number): Promise<BindingRow | undefined> {
  return queries(db).byRepository.get({ id: repositoryId });
}

export async function bindingOfHook(db: Db, hookId: string): Promise<BindingRow | undefined> {
  return queries(db).byHook.get({ hookId });
}

export async function assertNotPushUser(db: Db, userId: number, userName: string): Promise<void> {
  const bound = await db
    .select({ id: sourceBindings.id })
    .from(sourceBindings)
    .where(eq(sourceBindings.pushUserId, userId))
    .get();
  if (bound)
    throw new DomainError(
      "UserIsPushUser",
      `user "${userName}" pushes the builds of a bound repository; choose another push user first`,
    );
}
