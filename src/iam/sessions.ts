import { and, eq } from "drizzle-orm";
import type { Db } from "../db/connection.ts";
import { accounts, users } from "../db/schema.ts";
import { parseLoginName, type Principal } from "./principal.ts";
import { hashSecret, verifySecret } from "./secrets.ts";
import { issueSession } from "./tokens.ts";
import { invalidCredentials } from "./users.ts";

/** Verified against when the login name is unknown, so that a miss costs as long as a wrong password. */
let decoyHash: Promise<string> | undefined;

/** Console login: `alias` (root) or `user@alias` with the console password. */
export async function login(db: Db, loginName: string, password: string) {
  const { alias, userName } = parseLoginName(loginName);
  const account = await db.select().from(accounts).where(eq(accounts.alias, alias)).get();
  const user =
    account && userName !== undefined
      ? await db
          .select()
          .from(users)
          .where(and(eq(users.accountId, account.id), eq(users.name, userName)))
          .get()
      : undefined;
  const storedHash = userName === undefined ? account?.passwordHash : user?.passwordHash;
  if (!account || !storedHash) {
    await verifySecret(await (decoyHash ??= hashSecret("decoy-password-0")), password);
    throw invalidCredentials();
  }
  if (!(await verifySecret(storedHash, password))) throw invalidCredentials();
  const principal: Principal = user
    ? { accountId: account.id, alias, kind: "user", userId: user.id, userName: user.name }
    : { accountId: account.id, alias, kind: "root" };
  const session = await issueSession(db, account.id, user?.id ?? null);
  const registryHash = user ? user.registryPasswordHash : account.registryPasswordHash;
  return { ...session, principal, mustSetRegistryPassword: registryHash === null };
}
