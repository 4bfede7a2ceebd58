import { and, asc, eq, inArray } from "drizzle-orm";
import { conflict, DomainError, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import { accessKeys, accounts, groupMembers, groups, policyAttachments, sessions, users } from "../db/schema.ts";
import type { Principal } from "./principal.ts";
import type { UserView } from "./schemas.ts";
import { hashSecret } from "./secrets.ts";

type UserRow = typeof users.$inferSelect;

export function userView(row: UserRow, alias: string): UserView {
  return {
    name: row.name,
    displayName: row.displayName,
    loginName: `${row.name}@${alias}`,
    hasConsolePassword: row.passwordHash !== null,
    hasRegistryPassword: row.registryPasswordHash !== null,
    createdAt: row.createdAt,
  };
}

export async function findUser(db: Db, accountId: string, name: string): Promise<UserRow> {
  const row = await db
    .select()
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.name, name)))
    .get();
  if (!row) throw notFound("user", name, "UserNotFound");
  return row;
}

export async function createUser(
  db: Db,
  accountId: string,
  input: { name: string; password?: string; displayName?: string },
): Promise<UserRow> {
  const passwordHash = input.password ? await hashSecret(input.password) : null;
  try {
    return await db
      .insert(users)
      .values({ accountId, name: input.name, displayName: input.displayName ?? null, passwordHash })
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("UserAlreadyExists", `user "${input.name}" already exists`);
    throw err;
  }
}

export async function listUsers(db: Db, accountId: string): Promise<UserRow[]> {
  return await db.select().from(users).where(eq(users.accountId, accountId)).orderBy(asc(users.name)).all();
}

/**
 * Deletes the user with its keys, sessions, memberships and policy attachments. The caller first
 * refuses a user that still pushes builds (sources/bindings.ts assertNotPushUser).
 */
export async function deleteUser(db: Db, accountId: string, name: string): Promise<void> {
  const user = await findUser(db, accountId, name);
  await db.transaction(async (tx) => {
    await tx
      .delete(policyAttachments)
      .where(and(eq(policyAttachments.principalType, "user"), eq(policyAttachments.principalId, user.id)))
      .run();
    await tx.delete(groupMembers).where(eq(groupMembers.userId, user.id)).run();
    await tx.delete(accessKeys).where(eq(accessKeys.userId, user.id)).run();
    await tx.delete(sessions).where(eq(sessions.userId, user.id)).run();
    await tx.delete(users).where(eq(users.id, user.id)).run();
  });
}

export async function setConsolePassword(
  db: Db,
  principal: { accountId: string; userId?: number },
  password: string,
): Promise<void> {
  const passwordHash = await hashSecret(password);
  if (principal.userId === undefined)
    await db.update(accounts).set({ passwordHash }).where(eq(accounts.id, principal.accountId)).run();
  else await db.update(users).set({ passwordHash }).where(eq(users.id, principal.userId)).run();
}

/** The registry password is separate from the console password, as in ACR. */
export async function setRegistryPassword(
  db: Db,
  principal: { accountId: string; userId?: number },
  password: string,
): Promise<void> {
  const registryPasswordHash = await hashSecret(password);
  const registryPasswordChangedAt = new Date().toISOString();
  if (principal.userId === undefined) {
    await db
      .update(accounts)
      .set({ registryPasswordHash, registryPasswordChangedAt })
      .where(eq(accounts.id, principal.accountId))
      .run();
  } else {
    await db
      .update(users)
      .set({ registryPasswordHash, registryPasswordChangedAt })
      .where(eq(users.id, principal.userId))
      .run();
  }
}

export async function hasRegistryPassword(db: Db, principal: Principal): Promise<boolean> {
  const row =
    principal.kind === "root"
      ? await db
          .select({ h: accounts.registryPasswordHash })
          .from(accounts)
          .where(eq(accounts.id, principal.accountId))
          .get()
      : await db.select({ h: users.registryPasswordHash }).from(users).where(eq(users.id, principal.userId!)).get();
  return row?.h != null;
}

export async function groupsOfUser(db: Db, userId: number): Promise<string[]> {
  const members = await db
    .select({ id: groupMembers.groupId })
    .from(groupMembers)
    .where(eq(groupMembers.userId, userId))
    .all();
  const ids = members.map((r) => r.id);
  if (ids.length === 0) return [];
  const rows = await db
    .select({ name: groups.name })
    .from(groups)
    .where(inArray(groups.id, ids))
    .orderBy(asc(groups.name))
    .all();
  return rows.map((g) => g.name);
}

export const invalidCredentials = () => new DomainError("InvalidCredentials", "the login name or password is wrong");
