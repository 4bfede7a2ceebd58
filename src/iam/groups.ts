import { and, asc, eq } from "drizzle-orm";
import { conflict, notFound } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import { groupMembers, groups, users } from "../db/schema.ts";

type GroupRow = typeof groups.$inferSelect;

export async function findGroup(db: Db, accountId: string, name: string): Promise<GroupRow> {
  const row = await db
    .select()
    .from(groups)
    .where(and(eq(groups.accountId, accountId), eq(groups.name, name)))
    .get();
  if (!row) throw notFound("group", name, "GroupNotFound");
  return row;
}

export async function createGroup(
  db: Db,
  accountId: string,
  input: { name: string; description?: string },
): Promise<GroupRow> {
  try {
    return await db
      .insert(groups)
      .values({ accountId, name: input.name, description: input.description ?? null })
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("GroupAlreadyExists", `group "${input.name}" already exists`);
    throw err;
  }
}

export async function listGroups(db: Db, accountId: string): Promise<GroupRow[]> {
  return await db.select().from(groups).where(eq(groups.accountId, accountId)).orderBy(asc(groups.name)).all();
}

export async function addMember(db: Db, groupId: number, userId: number): Promise<void> {
  await db.insert(groupMembers).values({ groupId, userId }).onConflictDoNothing().run();
}

export async function membersOf(db: Db, groupId: number): Promise<string[]> {
  const rows = await db
    .select({ name: users.name })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(eq(groupMembers.groupId, groupId))
    .orderBy(asc(users.name))
    .all();
  return rows.map((r) => r.name);
}
