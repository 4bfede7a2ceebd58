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

export function findUser(db: Db, accountId: string, name: string): UserRow {
  const row = db
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
    return db
      .insert(users)
      .values({ accountId, name: input.name, displayName: input.displayName ?? null, passwordHash })
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("UserAlreadyExists", `user "${input.name}" already exists`);
    throw err;
  }
}

export function listUsers(db: Db, accountId: string): UserRow[] {
  return db.select().from(users).where(eq(users.accountId, accountId)).orderBy(asc(users.name)).all();
}

/**
 * Deletes the user with its keys, sessions, memberships and policy attachments. The caller first
 * refuses a user that still pushes builds (sources/bindings.ts assertNotPushUser).
 */
export function deleteUser(db: Db, accountId: string, name: string): void {
  const user = findUser(db, accountId, name);
  db.transaction((tx) => {
    tx.delete(policyAttachments)
      .where(and(eq(policyAttachments.principalType, "user"), eq(policyAttachments.principalId, user.id)))
      .run();
    tx.delete(groupMembers).where(eq(groupMembers.userId, user.id)).run();
    tx.delete(accessKeys).where(eq(accessKeys.userId, user.id)).run();
    tx.delete(sessions).where(eq(sessions.userId, user.id)).run();
    tx.delete(users).where(eq(users.id, user.id)).run();
  });
}

export async function setConsolePassword(
  db: Db,
  principal: { accountId: string; userId?: number },
  password: string,
): Promise<void> {
  const passwordHash = await hashSecret(password);
  if (principal.userId === undefined)
    db.update(accounts).set({ passwordHash }).where(eq(accounts.id, principal.accountId)).run();
  else db.update(users).set({ passwordHash }).where(eq(users.id, principal.userId)).run();
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
    db.update(accounts)
      .set({ registryPasswordHash, registryPasswordChangedAt })
      .where(eq(accounts.id, principal.accountId))
      .run();
  } else {
    db.update(users)
      .set({ registryPasswordHash, registryPasswordChangedAt })
      .where(eq(users.id, principal.userId))
      .run();
  }
}

export function hasRegistryPassword(db: Db, principal: Principal): boolean {
  if (principal.kind === "root") {
    return (
      db.select({ h: accounts.registryPasswordHash }).from(accounts).where(eq(accounts.id, principal.accountId)).get()
        ?.h != null
    );
  }
  return (
    db.select({ h: users.registryPasswordHash }).from(users).where(eq(users.id, principal.userId!)).get()?.h != null
  );
}

export function groupsOfUser(db: Db, userId: number): string[] {
  const ids = db
    .select({ id: groupMembers.groupId })
    .from(groupMembers)
    .where(eq(groupMembers.userId, userId))
    .all()
    .map((r) => r.id);
  if (ids.length === 0) return [];
  return db
    .select({ name: groups.name })
    .from(groups)
    .where(inArray(groups.id, ids))
    .orderBy(asc(groups.name))
    .all()
    .map((g) => g.name);
}

export const invalidCredentials = () => new DomainError("InvalidCredentials", "the login name or password is wrong");
