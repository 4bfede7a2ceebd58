import { eq, sql } from "drizzle-orm";
import { perDb } from "../db/prepared.ts";
import type { Db } from "../db/connection.ts";
import { accessKeys, accounts, sessions, users } from "../db/schema.ts";
import type { Principal } from "./principal.ts";
import { constantTimeEqual, hashSecret, randomId, randomSecret, sha256, verifySecret } from "./secrets.ts";

/**
 * Bearer tokens are `kak_<id>_<secret>` (access keys, argon2id-hashed) and `kss_<id>_<secret>`
 * (console sessions, SHA-256-hashed: the secret is 256 random bits and the session is short).
 */
const TOKEN = /^(kak|kss)_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export async function issueAccessKey(
  db: Db,
  accountId: string,
  userId: number | null,
  description?: string,
): Promise<{ id: string; token: string }> {
  const id = randomId();
  const secret = randomSecret();
  await db
    .insert(accessKeys)
    .values({ id, accountId, userId, secretHash: await hashSecret(secret), description })
    .run();
  return { id, token: `kak_${id}_${secret}` };
}

export async function issueSession(
  db: Db,
  accountId: string,
  userId: number | null,
): Promise<{ token: string; expiresAt: string }> {
  const id = randomId();
  const secret = randomSecret();
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS).toISOString();
  await db
    .insert(sessions)
    .values({ id, accountId, userId, secretHash: sha256(secret), expiresAt })
    .run();
  return { token: `kss_${id}_${secret}`, expiresAt };
}

/** The principal a bearer token stands for, or undefined when it is malformed, unknown, expired or wrong. */
export async function resolveBearer(db: Db, token: string): Promise<Principal | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const [, kind, id, secret] = m as unknown as [string, "kak" | "kss", string, string];
  if (kind === "kak") {
    const key = await db.select().from(accessKeys).where(eq(accessKeys.id, id)).get();
    if (!key || !(await verifySecret(key.secretHash, secret))) return undefined;
    return principalOf(db, key.accountId, key.userId);
  }
  const session = await queries(db).session.get({ id });
  if (!session || Date.parse(session.expiresAt) <= Date.now() || !constantTimeEqual(session.secretHash, sha256(secret)))
    return undefined;
  return principalOf(db, session.accountId, session.userId);
}

/** Ends the console session the token names; other tokens (access keys) are left alone. */
export async function revokeSession(db: Db, token: string): Promise<boolean> {
  const m = TOKEN.exec(token);
  if (!m || m[1] !== "kss") return false;
  const session = await db.select().from(sessions).where(eq(sessions.id, m[2]!)).get();
  if (!session || !constantTimeEqual(session.secretHash, sha256(m[3]!))) return false;
  await db.delete(sessions).where(eq(sessions.id, session.id)).run();
  return true;
}

const queries = perDb((db) => ({
  session: db
    .select()
    .from(sessions)
    .where(eq(sessions.id, sql.placeholder("id")))
    .prepare(),
  alias: db
    .select({ alias: accounts.alias })
    .from(accounts)
    .where(eq(accounts.id, sql.placeholder("id")))
    .prepare(),
  userName: db
    .select({ name: users.name })
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .prepare(),
}));

export async function principalOf(db: Db, accountId: string, userId: number | null): Promise<Principal | undefined> {
  const account = await queries(db).alias.get({ id: accountId });
  if (!account) return undefined;
  if (userId === null) return { accountId, alias: account.alias, kind: "root" };
  const user = await queries(db).userName.get({ id: userId });
  if (!user) return undefined;
  return { accountId, alias: account.alias, kind: "user", userId, userName: user.name };
}
